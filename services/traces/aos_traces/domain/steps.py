"""Step vocabulary: statuses, levels, outcomes, and the normalisation of one step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from aos_traces.domain.errors import TraceInputError
from aos_traces.domain.hashing import hash_and_json, hash_data, step_hash
from aos_traces.domain.redaction import redact
from aos_traces.domain.timestamps import parse_timestamp

STEP_STATUSES = ("success", "failure", "retry", "skipped")
STATUS_ALIASES = {"error": "failure", "failed": "failure", "succeeded": "success", "ok": "success"}
SOURCES = ("engine", "external", "replay")
REPLAY_BEHAVIORS = ("execute", "skip", "check")
LEVELS = ("INFO", "WARN", "ERROR")
_LEVEL_RANK = {"INFO": 0, "WARN": 1, "ERROR": 2}


def level_for(status: str) -> str:
    """API.md: failure/error -> ERROR, retry -> WARN, anything else INFO."""
    if status in ("failure", "error"):
        return "ERROR"
    if status == "retry":
        return "WARN"
    return "INFO"


def outcome_for(status: str) -> str:
    """The hashed outcome: success and skipped stay, retry (and failure) become failure."""
    return status if status in ("success", "skipped") else "failure"


def worst_level(levels: list[str]) -> str:
    return max(levels, key=_LEVEL_RANK.__getitem__, default="INFO")


@dataclass(slots=True)
class Step:
    step_index: int
    skill_id: str
    skill_name: str
    params: Any
    status: str
    outcome_category: str
    outcome_code: str | None
    outcome_data: Any
    cost_cents: float
    duration_ms: float
    retry_count: int
    timestamp: datetime
    source: str
    level: str
    input_hash: str
    output_hash: str
    rng_state_before: str | None
    idempotency_key: str | None
    replay_behavior: str
    span_id: str | None = None
    # The stored JSON text of params / outcome_data when normalisation already wrote it.
    params_json: str | None = None
    outcome_json: str | None = None

    def stored_params(self) -> str | None:
        """The JSON text stored for params (jsonb: key order is not kept, so sorted is fine)."""
        return self.params_json if self.params_json is not None else _json(self.params)

    def stored_outcome(self) -> str | None:
        return self.outcome_json if self.outcome_json is not None else _json(self.outcome_data)

    @property
    def step_hash(self) -> str:
        return step_hash(
            self.step_index,
            self.skill_id,
            self.input_hash,
            self.output_hash,
            self.rng_state_before,
            outcome_for(self.status),
            self.idempotency_key,
            self.replay_behavior,
        )

    def hash_fields(self) -> dict[str, Any]:
        """What the schema-1.1 step hash reads (aos_proofs.trace_hash.step_hash)."""
        return {
            "step_index": self.step_index,
            "skill_id": self.skill_id,
            "input_hash": self.input_hash,
            "output_hash": self.output_hash,
            "rng_state_before": self.rng_state_before,
            "status": self.status,
            "idempotency_key": self.idempotency_key,
            "replay_behavior": self.replay_behavior,
        }


_INF = float("inf")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _hashed_and_stored(
    sent_hash: Any, data: Any, position: int, name: str
) -> tuple[str, Any, str | None]:
    """The hash (as sent, else of `data` before redaction), the redacted data, and its stored
    JSON text. Redaction returns `data` itself when nothing changed, and then the canonical
    text the hash was computed from is the stored text too (same content; jsonb keeps no key
    order), which saves serialising every clean payload twice."""
    canonical: str | None = None
    if sent_hash is None:
        hashed, canonical = hash_and_json(data)
    else:
        hashed = _hash_or(sent_hash, _F(position, name), data)
    stored = redact(data)
    if stored is None:
        return hashed, None, None
    if canonical is not None and stored is data:
        return hashed, stored, canonical
    return hashed, stored, orjson.dumps(stored).decode()


class _F:
    """A field path such as `steps[3].cost_cents`, formatted only when an error needs it."""

    __slots__ = ("name", "position")

    def __init__(self, position: int, name: str) -> None:
        self.position = position
        self.name = name

    def __format__(self, spec: str) -> str:
        return f"steps[{self.position}].{self.name}"

    __str__ = __repr__ = lambda self: format(self, "")


def _text(value: Any, field: Any, *, limit: int = 256, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise TraceInputError(f"{field} is required")
        return None
    if type(value) is str and len(value) <= limit and "\x00" not in value:
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TraceInputError(f"{field} must be a string")
    text = str(value)
    if "\x00" in text:
        raise TraceInputError(f"{field} must not contain NUL characters")
    if len(text) > limit:
        raise TraceInputError(f"{field} must be at most {limit} characters")
    return text


def _number(value: Any, field: Any, default: float = 0.0) -> float:
    if value is None:
        return default
    kind = type(value)
    if (kind is float or kind is int) and 0 <= value < _INF:
        return float(value)
    raise TraceInputError(f"{field} must be a finite number >= 0")


def _fast_number(value: Any, position: int, name: str) -> float:
    kind = type(value)
    if (kind is float or kind is int) and 0 <= value < _INF:
        return float(value)
    if value is None:
        return 0.0
    return _number(value, _F(position, name))


def _integer(value: Any, field: Any, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if type(value) is not int:
        raise TraceInputError(f"{field} must be an integer")
    if not -(2**31) <= value < 2**31:
        raise TraceInputError(f"{field} is out of range")
    return value


def _hash_or(value: Any, field: Any, data: Any) -> str:
    if value is None:
        return hash_data(data)
    text = _text(value, field, limit=128)
    assert text is not None
    return text


def normalize_step(raw: Any, position: int, default_timestamp: datetime) -> Step:
    """One client step -> a stored step: defaults filled, level derived, hashes computed on the
    data as sent (before redaction, so they match what the client hashed), then redacted.

    Fields are checked in a fixed order, so a step with several bad fields names the first."""
    if type(raw) is not dict:
        raise TraceInputError(f"steps[{position}] must be an object")
    get = raw.get
    step_index = _step_index(get("step_index"), position)
    skill_id, skill_name = _skill(get("skill_id"), get("skill_name"), position)
    status = _status(get("status"), position)
    source = _choice(get("source"), "engine", SOURCES, position, "source")
    replay_behavior = _choice(
        get("replay_behavior"), "execute", REPLAY_BEHAVIORS, position, "replay_behavior"
    )
    outcome_category = _outcome_category(get("outcome_category"), status, position)
    outcome_code = _optional_text(get("outcome_code"), position, "outcome_code", 128)
    cost_cents = _fast_number(get("cost_cents"), position, "cost_cents")
    duration_ms = _fast_number(get("duration_ms"), position, "duration_ms")
    retry_count = _retry_count(get("retry_count"), position)
    timestamp = _timestamp(get("timestamp"), position, default_timestamp)
    params = get("params")
    input_hash, params, params_json = _hashed_and_stored(
        get("input_hash"), {} if params is None else params, position, "input_hash"
    )
    output_hash, outcome_data, outcome_json = _hashed_and_stored(
        get("output_hash"), get("outcome_data"), position, "output_hash"
    )
    rng_state = _optional_text(get("rng_state_before"), position, "rng_state_before", 512)
    key = _optional_text(get("idempotency_key"), position, "idempotency_key")
    return Step(
        step_index,
        skill_id,
        skill_name,
        params,
        status,
        outcome_category,
        outcome_code,
        outcome_data,
        cost_cents,
        duration_ms,
        retry_count,
        timestamp,
        source,
        level_for(status),
        input_hash,
        output_hash,
        rng_state,
        key,
        replay_behavior,
        None,
        params_json,
        outcome_json,
    )


def _optional_text(value: Any, position: int, name: str, limit: int = 256) -> str | None:
    """A text field, or None; the common case (a short clean string) is checked inline."""
    if value is None or (type(value) is str and len(value) <= limit and "\x00" not in value):
        return value
    return _text(value, _F(position, name), limit=limit)


def _step_index(value: Any, position: int) -> int:
    """As sent, else the step's position in the list."""
    if value is None:
        return position
    if type(value) is not int or not 0 <= value < 2**31:
        raise TraceInputError(f"{_F(position, 'step_index')} must be an integer >= 0")
    return value


def _skill(skill_id: Any, skill_name: Any, position: int) -> tuple[str, str]:
    """(skill_id, skill_name): one of them is required and stands in for the other."""
    skill_id = _optional_text(skill_id, position, "skill_id")
    skill_name = _optional_text(skill_name, position, "skill_name")
    if skill_id is None and skill_name is None:
        raise TraceInputError(f"steps[{position}] must have skill_id or skill_name")
    return skill_id or skill_name or "", skill_name or skill_id or ""


def _status(value: Any, position: int) -> str:
    """One of STEP_STATUSES, case-insensitive, aliases (`error`, `ok` ...) mapped; default success."""
    status = value or "success"
    if status in STEP_STATUSES:
        return status
    status = str(status).lower()
    status = STATUS_ALIASES.get(status, status)
    if status not in STEP_STATUSES:
        raise TraceInputError(f"{_F(position, 'status')} must be one of {', '.join(STEP_STATUSES)}")
    return status


def _choice(value: Any, default: str, allowed: tuple[str, ...], position: int, name: str) -> str:
    chosen = value or default
    if chosen not in allowed:
        raise TraceInputError(f"{_F(position, name)} must be one of {', '.join(allowed)}")
    return chosen


def _outcome_category(value: Any, status: str, position: int) -> str:
    """As sent (at most 64 characters), else the status."""
    if value is None:
        return status
    return _text(value, _F(position, "outcome_category"), limit=64) or status


def _retry_count(value: Any, position: int) -> int:
    return 0 if value is None else _integer(value, _F(position, "retry_count"))


def _timestamp(value: Any, position: int, default: datetime) -> datetime:
    return default if value is None else parse_timestamp(value, _F(position, "timestamp"))
