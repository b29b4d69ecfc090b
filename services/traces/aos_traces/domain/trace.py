"""Normalisation of one client trace into what is stored, with the server-computed root hash.

Pure: no I/O, no clock except the `now` passed in, so the batch path can run it in a worker thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from aos_proofs.trace_hash import TRACE_SCHEMA_VERSION
from aos_traces.domain.errors import TraceInputError
from aos_traces.domain.hashing import chain_root, hash_data
from aos_traces.domain.redaction import redact
from aos_traces.domain.steps import Step, normalize_step, worst_level
from aos_traces.domain.timestamps import parse_timestamp

DEFAULT_SEED = 42
TRACE_ID_REQUIRED = "trace must have run_id or trace_id"
MAX_ID_LENGTH = 128


@dataclass(slots=True)
class Trace:
    tenant_id: str
    trace_id: str
    run_id: str
    correlation_id: str
    agent_id: str | None
    plan: Any
    metadata: Any
    started_at: datetime
    completed_at: datetime | None
    status: str
    seed: int
    frozen_timestamp: str | None
    root_hash: str
    client_root_hash: str | None
    plan_hash: str | None
    schema_version: str
    is_synthetic: bool
    incident_id: str | None
    replay_mode: str
    source: str = "api"
    steps: list[Step] = field(default_factory=list)
    # OTLP only: when the root hash becomes final (late spans after it amend the trace).
    hash_final_at: datetime | None = None

    @property
    def hash_verified(self) -> bool:
        return self.client_root_hash is None or self.client_root_hash == self.root_hash

    @property
    def level(self) -> str:
        return worst_level([step.level for step in self.steps])

    @property
    def success_count(self) -> int:
        return sum(1 for step in self.steps if step.status == "success")

    @property
    def failure_count(self) -> int:
        return sum(1 for step in self.steps if step.status == "failure")

    @property
    def total_cost_cents(self) -> float:
        return float(sum(step.cost_cents for step in self.steps))

    @property
    def total_duration_ms(self) -> float:
        return float(sum(step.duration_ms for step in self.steps))


def trace_id_for_run(run_id: str) -> str:
    """A trace sent with only a run id gets a trace id derived from it, so resending the same run
    finds the same trace (and conflicts) instead of creating a second one."""
    return "trace_" + hashlib.sha256(run_id.encode()).hexdigest()[:16]


def _identifier(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise TraceInputError(f"{name} must be a string")
    text = str(value)
    if "\x00" in text:
        raise TraceInputError(f"{name} must not contain NUL characters")
    if len(text) > MAX_ID_LENGTH:
        raise TraceInputError(f"{name} must be at most {MAX_ID_LENGTH} characters")
    return text


def _optional_text(value: Any, name: str, limit: int = 128) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TraceInputError(f"{name} must be a string")
    if "\x00" in value:
        raise TraceInputError(f"{name} must not contain NUL characters")
    if len(value) > limit:
        raise TraceInputError(f"{name} must be at most {limit} characters")
    return value


def _seed(value: Any) -> int:
    if value is None:
        return DEFAULT_SEED
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise TraceInputError("seed must be a 64-bit integer")
    return value


def _frozen_timestamp(value: Any) -> str | None:
    """Kept exactly as sent: the hash reads the string, so reformatting it would break hashes."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64 or "\x00" in value:
        raise TraceInputError("frozen_timestamp must be a string of at most 64 characters")
    return value


def normalize_trace(raw: Any, tenant_id: str, now: datetime, *, source: str = "api") -> Trace:
    """Validate, fill defaults, hash (on the data as sent) and redact one trace."""
    if not isinstance(raw, dict):
        raise TraceInputError("trace must be an object")
    trace_id = _identifier(raw.get("trace_id"), "trace_id")
    run_id = _identifier(raw.get("run_id"), "run_id")
    if trace_id is None and run_id is None:
        raise TraceInputError(TRACE_ID_REQUIRED)
    if trace_id is None:
        assert run_id is not None
        trace_id = trace_id_for_run(run_id)
    run_id = run_id or trace_id
    started_at = parse_timestamp(raw.get("started_at") or now, "started_at")
    completed_raw = raw.get("completed_at")
    completed_at = None if completed_raw is None else parse_timestamp(completed_raw, "completed_at")
    raw_steps = raw.get("steps") or []
    if not isinstance(raw_steps, list):
        raise TraceInputError("steps must be a list")
    steps = [normalize_step(item, position, started_at) for position, item in enumerate(raw_steps)]
    indexes = [step.step_index for step in steps]
    if len(set(indexes)) != len(indexes):
        raise TraceInputError("step_index values must be unique within a trace")
    steps.sort(key=attrgetter("step_index"))
    plan = raw.get("plan")
    plan = [] if plan is None else plan
    if not isinstance(plan, list):
        raise TraceInputError("plan must be a list")
    metadata = raw.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise TraceInputError("metadata must be an object")
    seed = _seed(raw.get("seed"))
    frozen_timestamp = _frozen_timestamp(raw.get("frozen_timestamp"))
    status = _optional_text(raw.get("status"), "status", 32)
    if status is None:
        status = "completed" if completed_at is not None else "running"
    client_root_hash = _optional_text(raw.get("root_hash"), "root_hash")
    root_hash = chain_root(seed, frozen_timestamp, tenant_id, (step.step_hash for step in steps))
    is_synthetic = raw.get("is_synthetic", False)
    if not isinstance(is_synthetic, bool):
        raise TraceInputError("is_synthetic must be a boolean")
    return Trace(
        tenant_id=tenant_id,
        trace_id=trace_id,
        run_id=run_id,
        correlation_id=_identifier(raw.get("correlation_id"), "correlation_id") or run_id,
        agent_id=_optional_text(raw.get("agent_id"), "agent_id"),
        plan=redact(plan),
        metadata=redact(metadata),
        started_at=started_at,
        completed_at=completed_at,
        status=status,
        seed=seed,
        frozen_timestamp=frozen_timestamp,
        root_hash=root_hash,
        client_root_hash=client_root_hash,
        plan_hash=_optional_text(raw.get("plan_hash"), "plan_hash") or hash_data(plan),
        schema_version=_optional_text(raw.get("schema_version"), "schema_version", 16)
        or TRACE_SCHEMA_VERSION,
        is_synthetic=is_synthetic,
        incident_id=_identifier(raw.get("incident_id"), "incident_id"),
        replay_mode=_optional_text(raw.get("replay_mode"), "replay_mode", 32) or "full",
        source=source,
        steps=steps,
    )
