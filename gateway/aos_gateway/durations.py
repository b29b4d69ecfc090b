"""Go `time.ParseDuration` strings, as Traefik writes them (`100ms`, `10s`, `1m30s`).

Traefik also accepts a bare number for some duration fields and reads it as seconds; so do we.
"""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    """A duration string Go's parser would refuse."""


def parse_duration(value: str | int | float) -> float:
    """Seconds for a Go duration (`"1m30s"`), or a bare number of seconds."""
    if isinstance(value, bool):
        raise DurationError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise DurationError(f"invalid duration {value!r}: negative")
        return float(value)
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    sign = 1.0
    if text and text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    position = 0
    total = 0.0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise DurationError(f"invalid duration {value!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0:
        raise DurationError(f"invalid duration {value!r}")
    if sign < 0:
        raise DurationError(f"invalid duration {value!r}: negative")
    return total
