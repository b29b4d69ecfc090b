"""Trace documents and summaries as the API returns them (API.md, traces service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, computed_field


class TraceSummary(BaseModel):
    trace_id: str
    run_id: str
    correlation_id: str
    tenant_id: str
    agent_id: str | None
    total_steps: int
    success_count: int
    failure_count: int
    total_cost_cents: float
    total_duration_ms: float
    started_at: datetime
    completed_at: datetime | None
    status: str
    seed: int
    root_hash: str
    is_synthetic: bool
    incident_id: str | None


class StepRead(BaseModel):
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


class AmendmentRead(BaseModel):
    """A late span that changed the root hash after it had become final."""

    previous_root_hash: str
    root_hash: str
    steps_added: int
    span_ids: list[str]
    created_at: datetime


class TraceDocument(BaseModel):
    trace_id: str
    run_id: str
    correlation_id: str
    tenant_id: str
    agent_id: str | None
    plan: Any
    steps: list[StepRead]
    started_at: datetime
    completed_at: datetime | None
    status: str
    metadata: Any
    seed: int
    frozen_timestamp: str | None
    root_hash: str
    plan_hash: str | None
    schema_version: str
    is_synthetic: bool
    incident_id: str | None
    replay_mode: str
    hash_verified: bool
    level: str
    # OTLP late spans: when the root hash became (or becomes) final; after that a late span
    # amends the trace and `final_root_hash` keeps the hash it had when it became final.
    hash_final_at: datetime | None = None
    final_root_hash: str | None = None
    amended_at: datetime | None = None
    amendments: list[AmendmentRead] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def amended(self) -> bool:
        return self.amended_at is not None


class TraceFilters(BaseModel):
    agent_id: str | None = None
    status: str | None = None
    root_hash: str | None = None
    plan_hash: str | None = None
    seed: int | None = None
    level: str | None = None
    is_synthetic: bool | None = None
    incident_id: str | None = None
    run_id: str | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None
    as_of: datetime | None = None


# --- answers of the trace routes (response models; the routes answer these shapes as dicts) -----


class TraceList(BaseModel):
    """GET /api/v1/traces, not enveloped: `traces` and `items` hold the same summaries."""

    traces: list[TraceSummary]
    items: list[TraceSummary]
    total: int
    limit: int
    offset: int


class TraceStored(BaseModel):
    """POST /api/v1/traces (inside the envelope)."""

    trace_id: str
    run_id: str
    root_hash: str
    hash_verified: bool
    stored: bool
    replay_mode: str


class BatchItemResult(BaseModel):
    """One item of a batch: the trace fields are absent for a rejected item, `error` is absent
    for a stored one."""

    index: int
    status: Literal["stored", "duplicate", "rejected"]
    trace_id: str | None = None
    root_hash: str | None = None
    hash_verified: bool | None = None
    steps: int | None = None
    error: str | None = None


class BatchResult(BaseModel):
    stored: int
    duplicates: int
    rejected: int
    steps_stored: int
    results: list[BatchItemResult]


class TraceCounts(BaseModel):
    """GET /api/v1/traces/summary: traces counted by status and by level."""

    total: int
    synthetic_count: int
    by_status: dict[str, int]
    by_level: dict[str, int]


class CleanupResult(BaseModel):
    deleted_count: int
    retention_days: int


class IncidentTraces(BaseModel):
    incident_id: str
    traces: list[TraceSummary]
    total: int


class Difference(BaseModel):
    field: str
    trace1: Any
    trace2: Any


class TraceComparison(BaseModel):
    match: bool
    trace1_root_hash: str | None
    trace2_root_hash: str | None
    differences: list[Difference]
    summary: str


class IdempotencyStatus(BaseModel):
    """Whether a step idempotency key was executed; the other fields only when it was."""

    executed: bool
    trace_id: str | None = None
    step_index: int | None = None
    status: str | None = None
    output_hash: str | None = None
