"""Redaction applied to plan, params, outcome_data and metadata before anything is stored.

Two passes in one walk: values under sensitive keys (matched case-insensitively on the whole key)
become `<REDACTED>`, and every string is scanned once for the patterns API.md lists. Keys are
matched whole rather than by substring so that ordinary fields such as `max_tokens` or
`input_tokens` survive. Anything nested deeper than the depth limit is replaced as a whole: a
structure too deep to inspect is never stored unexamined.
"""

from __future__ import annotations

import re
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
# Cheap pre-filter: a string with none of these characters cannot match any pattern.
# (every card or SSN pattern contains three digits in a row)
_MAY_MATCH = re.compile(r"@|\d{3}|(?i:bearer)|AKIA|gh[poa]_|xox")


def _replace(match: re.Match[str]) -> str:
    """Grouped digits (`4111 1111 1111 1111`, Amex 4-6-5) count as a card at 13-19 digits."""
    group = match.lastgroup or ""
    if group == "grouped":
        text = match.group(0)
        digits = sum(character.isdigit() for character in text)
        return "<REDACTED_CARD>" if digits in CARD_DIGITS else text
    return _REPLACEMENTS[group]


def redact_string(value: str) -> str:
    """Patterns replaced; NUL characters (which PostgreSQL cannot store) become U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not _MAY_MATCH.search(value):
        return value
    return _PATTERN.sub(_replace, value)


def is_sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower() in SENSITIVE_KEYS


_SCALARS = (int, float, bool, type(None))


def redact(data: Any, depth: int = 0) -> Any:
    """A redacted copy of `data` (JSON-like: dicts, lists, strings, numbers, booleans, null)."""
    kind = type(data)
    if kind is str:
        return redact_string(data)
    if kind is dict:
        if depth >= MAX_DEPTH:
            return REDACTED
        result = {}
        for key, value in data.items():
            if type(key) is str and "\x00" in key:
                key = key.replace("\x00", "\ufffd")
            if type(key) is str and key.lower() in SENSITIVE_KEYS:
                result[key] = REDACTED
            elif type(value) is str:
                result[key] = redact_string(value)
            elif type(value) in _SCALARS:
                result[key] = value
            else:
                result[key] = redact(value, depth + 1)
        return result
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            return REDACTED
        return [redact(item, depth + 1) for item in data]
    if isinstance(data, dict):
        return redact(dict(data), depth)
    if isinstance(data, (list, tuple)):
        return redact(list(data), depth)
    if isinstance(data, str):
        return redact_string(str(data))
    return data
