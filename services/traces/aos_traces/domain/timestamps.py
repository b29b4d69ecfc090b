"""Timestamp parsing shared by trace ingestion and query filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aos_traces.domain.errors import TraceInputError

# Postgres timestamptz covers 4713 BC .. 294276 AD; Python's datetime 1..9999, which is stricter.
_EPOCH_LIMIT = 253402300799


def parse_timestamp(value: Any, field: object) -> datetime:
    """ISO-8601 (a `Z` suffix is accepted, naive means UTC) or epoch seconds -> aware UTC."""
    if type(value) is str or isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise TraceInputError(f"{field} must be ISO-8601 UTC") from error
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= _EPOCH_LIMIT:
            raise TraceInputError(f"{field} must be ISO-8601 UTC")
        return datetime.fromtimestamp(value, UTC)
    else:
        raise TraceInputError(f"{field} must be ISO-8601 UTC")
    zone = moment.tzinfo
    if zone is None:
        return moment.replace(tzinfo=UTC)
    if zone is UTC:
        return moment
    return moment.astimezone(UTC)
