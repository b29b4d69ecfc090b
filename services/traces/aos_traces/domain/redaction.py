"""Redaction applied to plan, params, outcome_data and metadata before anything is stored.

Two passes in one walk: values under sensitive keys (matched case-insensitively on the whole key)
become `<REDACTED>`, and every string is scanned once for the patterns API.md lists. Keys are
matched whole rather than by substring so that ordinary fields such as `max_tokens` or
`input_tokens` survive. Anything nested deeper than the depth limit is replaced as a whole: a
structure too deep to inspect is never stored unexamined.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

REDACTED = "<REDACTED>"
MAX_DEPTH = 20

SENSITIVE_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "access_token",
        "refresh_token",
        "auth_token",
        "authorization",
        "bearer",
        "private_key",
        "privatekey",
        "ssh_key",
        "credentials",
        "cred",
        "ssn",
        "social_security",
        "credit_card",
        "creditcard",
        "card_number",
        "cvv",
        "cvc",
    }
)

# One alternation, one scan per string; the group that matched names the replacement.
_PATTERN = re.compile(
    r"(?P<bearer>\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+[A-Za-z0-9\-._~+/]+=*)"
    r"|(?P<email>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})"
    r"|(?P<aws>\bAKIA[0-9A-Z]{16})"
    r"|(?P<github>\bgh[poa]_[A-Za-z0-9]{36,})"
    r"|(?P<slack>\bxox[baprs]-[A-Za-z0-9\-]+)"
    r"|(?P<ssn>(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-]))"
    r"|(?P<card>(?<!\d)\d{13,19}(?!\d))"
    r"|(?P<grouped>(?<![\d-])(?:\d{4,6}[ \-]){2,4}\d{1,6}(?![\d-]))"
)
_REPLACEMENTS = {
    "bearer": "Bearer <REDACTED>",
    "email": "<REDACTED_EMAIL>",
    "aws": "<REDACTED_AWS_KEY>",
    "github": "<REDACTED_GITHUB_TOKEN>",
    "slack": "<REDACTED_SLACK_TOKEN>",
    "ssn": "<REDACTED_SSN>",
    "card": "<REDACTED_CARD>",
}
CARD_DIGITS = range(13, 20)
# Cheap pre-filter: a string with none of these cannot match any pattern (every card or SSN
# pattern contains three digits in a row).
_MAY_MATCH = re.compile(r"@|\d{3}|(?i:bearer)|AKIA|gh[poa]_|xox")
# The same test for ASCII text, several times faster on long strings: bytes with ASCII digits
# folded to "0" and letters to lower case, searched for the folded triggers. (Only for ASCII:
# `\d` also matches non-ASCII digits, which the folding does not see.)
_FOLD = bytes(
    ord("0") if 48 <= byte <= 57 else byte + 32 if 65 <= byte <= 90 else byte for byte in range(256)
)
_MAY_MATCH_FOLDED = re.compile(rb"@|000|bearer|akia|gh[poa]_|xox")


def _replace(match: re.Match[str]) -> str:
    """Grouped digits (`4111 1111 1111 1111`, Amex 4-6-5) count as a card at 13-19 digits."""
    group = match.lastgroup or ""
    if group == "grouped":
        text = match.group(0)
        digits = sum(character.isdigit() for character in text)
        return "<REDACTED_CARD>" if digits in CARD_DIGITS else text
    return _REPLACEMENTS[group]


def redact_string(value: str) -> str:
    """Patterns replaced; NUL characters (which PostgreSQL cannot store) become U+FFFD. A string
    with nothing to replace is returned as it is (the same object)."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if value.isascii():
        if not _MAY_MATCH_FOLDED.search(value.encode().translate(_FOLD)):
            return value
    elif not _MAY_MATCH.search(value):
        return value
    return _PATTERN.sub(_replace, value)


_SCALARS = frozenset({int, float, bool, type(None)})


def redact(data: Any, depth: int = 0) -> Any:
    """A redacted copy of `data` (JSON-like: dicts, lists, strings, numbers, booleans, null).

    Copy on write: a dict, list or string with nothing to redact is returned as it is (the same
    object), so the common clean payload costs one walk and no allocation, and a caller can tell
    by identity that nothing changed. Callers must not mutate what they pass in afterwards.
    """
    kind = type(data)
    if kind is str:
        return redact_string(data)
    if kind is dict:
        return REDACTED if depth >= MAX_DEPTH else _redact_dict(data, depth)
    if kind is list:
        return REDACTED if depth >= MAX_DEPTH else _redact_list(data, depth)
    if kind is tuple:
        return REDACTED if depth >= MAX_DEPTH else _redact_list(list(data), depth)
    if kind in _SCALARS:
        return data
    if isinstance(data, dict):
        return redact(dict(data), depth)
    if isinstance(data, (list, tuple)):
        return redact(list(data), depth)
    if isinstance(data, str):
        return redact_string(str(data))
    return data


def _redact_dict(data: dict[Any, Any], depth: int) -> dict[Any, Any]:
    result: dict[Any, Any] | None = None
    clean = 0
    for key, value in data.items():
        new_key = key
        if type(key) is str:
            if "\x00" in key:
                new_key = key.replace("\x00", "\ufffd")
            if new_key.lower() in SENSITIVE_KEYS:
                new_value: Any = REDACTED
            elif type(value) is str:
                new_value = redact_string(value)
            elif type(value) in _SCALARS:
                new_value = value
            else:
                new_value = redact(value, depth + 1)
        elif type(value) in _SCALARS:
            new_value = value
        else:
            new_value = redact(value, depth + 1)
        if result is None:
            if new_key is key and new_value is value:
                clean += 1
                continue
            result = dict(islice(data.items(), clean))
        result[new_key] = new_value
    return data if result is None else result


def _redact_list(data: list[Any], depth: int) -> list[Any]:
    result: list[Any] | None = None
    for position, value in enumerate(data):
        kind = type(value)
        if kind is str:
            new_value = redact_string(value)
        elif kind in _SCALARS:
            continue
        else:
            new_value = redact(value, depth + 1)
        if new_value is not value:
            if result is None:
                result = data.copy()
            result[position] = new_value
    return data if result is None else result
