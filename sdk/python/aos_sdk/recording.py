"""Pure bookkeeping for a run and its steps, shared by the sync and async context managers.

A step records what the hash needs (input/output hashes, hashed outcome) and what people need
(duration, timestamp, error); the run turns its steps into the trace document API.md describes,
with the root hash computed locally.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aos_sdk.hashing import DEFAULT_SEED, SCHEMA_VERSION, hash_data, root_hash, to_jsonable
from aos_sdk.types import RunInfo

STEP_STATUSES = ("success", "failure", "retry", "skipped")
_UNSET: Any = object()


def utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def new_run_id() -> str:
    return f"run_{secrets.token_hex(8)}"


def new_trace_id() -> str:
    return f"trace_{secrets.token_hex(8)}"


def _level(status: str) -> str:
    if status in ("failure", "error"):
        return "ERROR"
    if status == "retry":
        return "WARN"
    return "INFO"


@dataclass
class StepRecord:
    """One step. Set `output` (and optionally tokens/cost) inside the `with` block."""

    step_index: int
    skill: str
    params: Any
    skill_name: str | None = None
    idempotency_key: str | None = None
    replay_behavior: str = "execute"
    rng_state_before: str | None = None
    status: str | None = None
    output: Any = _UNSET
    outcome_category: str | None = None
    outcome_code: str | None = None
    error: str | None = None
    retry_count: int = 0
    tokens: int = 0
    cost_cents: float = 0.0
    timestamp: str | None = None
    duration_ms: float | None = None
    _t0: float = field(default=0.0, repr=False)

    _input_hash: str = field(default="", repr=False)
    _output: tuple[int, Any, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.params = to_jsonable(self.params if self.params is not None else {})
        self._input_hash = hash_data(self.params)

    @property
    def input_hash(self) -> str:
        return self._input_hash

    def _output_json(self) -> tuple[Any, str]:
        """The output as JSON and its hash; frozen when the step finishes (until reassigned)."""
        output = None if self.output is _UNSET else self.output
        if self.duration_ms is None or self._output is None or self._output[0] != id(output):
            value = to_jsonable(output)
            self._output = (id(output), value, hash_data(value))
        return self._output[1], self._output[2]

    @property
    def output_hash(self) -> str:
        """Hash of the output; a step that set none hashes `null` (what the server assumes too)."""
        return self._output_json()[1]

    def hash_fields(self) -> dict[str, Any]:
        """What the schema-1.1 step hash reads."""
        return {
            "step_index": self.step_index,
            "skill_id": self.skill,
            "input_hash": self.input_hash,
            "output_hash": self.output_hash,
            "rng_state_before": self.rng_state_before,
            "status": self.status or "success",
            "idempotency_key": self.idempotency_key,
            "replay_behavior": self.replay_behavior,
        }

    def start(self) -> None:
        self.timestamp = utc_now()
        self._t0 = time.perf_counter()

    def finish(self, exc: BaseException | None) -> None:
        self._output = None
        self._output_json()
        self.duration_ms = round((time.perf_counter() - self._t0) * 1000.0, 3)
        if exc is not None:
            self.status = "failure"
            self.error = str(exc) or type(exc).__name__
            self.outcome_category = self.outcome_category or "error"
            self.outcome_code = self.outcome_code or type(exc).__name__
        else:
            self.status = self.status or "success"
            if self.status not in STEP_STATUSES:
                raise ValueError(f"step status must be one of {STEP_STATUSES}")
            self.outcome_category = self.outcome_category or self.status

    def document(self) -> dict[str, Any]:
        status = self.status or "success"
        outcome_data: Any = None
        if self.output is not _UNSET:
            outcome_data = {"output": self._output_json()[0]}
        if self.error is not None:
            outcome_data = {**(outcome_data or {}), "error": self.error}
        return {
            "step_index": self.step_index,
            "skill_id": self.skill,
            "skill_name": self.skill_name or self.skill,
            "params": self.params,
            "status": status,
            "outcome_category": self.outcome_category,
            "outcome_code": self.outcome_code,
            "outcome_data": outcome_data,
            "cost_cents": self.cost_cents,
            "duration_ms": self.duration_ms or 0.0,
            "retry_count": self.retry_count,
            "timestamp": self.timestamp,
            "source": "external",
            "level": _level(status),
            "input_hash": self.input_hash,
            "output_hash": self.output_hash,
            "rng_state_before": self.rng_state_before,
            "idempotency_key": self.idempotency_key,
            "replay_behavior": self.replay_behavior,
        }


@dataclass
class RunRecord:
    """A run: server-assigned fields after start, steps as they finish, the trace at the end."""

    worker_id: str
    task: str
    run_id: str
    trace_id: str = field(default_factory=new_trace_id)
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tenant_id: str | None = None
    seed: int = DEFAULT_SEED
    frozen_timestamp: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    plan: list[Any] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    started_at: str | None = None
    completed_at: str | None = None
    status: str | None = None
    server_run: RunInfo | None = None
    trace_result: dict[str, Any] | None = None
    total_latency_ms: int = 0
    _t0: float = field(default=0.0, repr=False)

    def start(self) -> None:
        self.started_at = utc_now()
        self.frozen_timestamp = self.frozen_timestamp or self.started_at
        self._t0 = time.perf_counter()

    def new_step(self, skill: str, params: Any, **kw: Any) -> StepRecord:
        step = StepRecord(step_index=len(self.steps), skill=skill, params=params, **kw)
        self.steps.append(step)
        return step

    def finish(self, exc: BaseException | None, *, aborted: bool = False) -> None:
        """Run status: aborted (interrupted), failed (raised, or a step failed), else succeeded."""
        self.completed_at = utc_now()
        self.total_latency_ms = round((time.perf_counter() - self._t0) * 1000.0)
        if aborted:
            self.status = "aborted"
            return
        failed = exc is not None or any(s.status == "failure" for s in self.steps)
        self.status = self.status or ("failed" if failed else "succeeded")

    @property
    def total_tokens(self) -> int:
        return sum(s.tokens for s in self.steps)

    @property
    def total_cost_cents(self) -> float:
        return sum(s.cost_cents for s in self.steps)

    @property
    def root_hash(self) -> str:
        if self.tenant_id is None:
            raise ValueError("tenant_id is needed to compute the root hash")
        return root_hash(
            seed=self.seed,
            frozen_timestamp=self.frozen_timestamp,
            tenant_id=self.tenant_id,
            steps=[s.hash_fields() for s in self.steps],
        )

    def trace_document(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "run_id": self.run_id,
            "correlation_id": self.correlation_id,
            "tenant_id": self.tenant_id,
            "agent_id": self.worker_id,
            "plan": self.plan,
            "steps": [s.document() for s in self.steps],
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "status": "completed" if self.status == "succeeded" else (self.status or "completed"),
            "metadata": {"task": self.task, **self.metadata},
            "seed": self.seed,
            "frozen_timestamp": self.frozen_timestamp,
            "root_hash": self.root_hash,
            "schema_version": SCHEMA_VERSION,
            "is_synthetic": False,
        }

    def completion(self) -> dict[str, Any]:
        """Body of PATCH /api/v1/runs/{id}."""
        return {
            "status": self.status or "succeeded",
            "total_tokens": self.total_tokens,
            "total_latency_ms": self.total_latency_ms,
            "cost_cents": self.total_cost_cents,
        }
