"""Pydantic I/O of the guard-logs routes (API.md guard-logs section)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LogFilters(BaseModel):
    """Filters a caller may put on a log list or export; forwarded to the traces service."""

    model_config = ConfigDict(frozen=True)

    agent_id: str | None = None
    status: str | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None

    def as_query(self) -> dict[str, str]:
        query: dict[str, str] = {}
        if self.agent_id is not None:
            query["agent_id"] = self.agent_id
        if self.status is not None:
            query["status"] = self.status
        if self.from_date is not None:
            query["from_date"] = self.from_date.isoformat()
        if self.to_date is not None:
            query["to_date"] = self.to_date.isoformat()
        return query


class LogSummaryRead(BaseModel):
    log_id: str
    run_id: str
    agent_id: str | None = None
    status: str | None = None
    total_steps: int = 0
    success_count: int = 0
    failure_count: int = 0
    started_at: str | None = None
    completed_at: str | None = None
    total_duration_ms: int | float | None = 0


class LogListRead(BaseModel):
    items: list[LogSummaryRead]
    total: int
    page: int
    page_size: int


class LogStepRead(BaseModel):
    step_index: int
    skill_name: str | None = None
    status: str | None = None
    outcome_category: str | None = None
    outcome_code: str | None = None
    duration_ms: int | float | None = None
    timestamp: str | None = None


class LogDetailRead(BaseModel):
    log_id: str
    run_id: str
    correlation_id: str | None = None
    agent_id: str | None = None
    status: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    steps: list[LogStepRead]
    total_steps: int
    success_count: int
    failure_count: int
    total_duration_ms: int | float


class ReplayWindow(BaseModel):
    """What a deterministic replay of the run needs, and the span of steps it covers."""

    seed: int | None = None
    frozen_timestamp: str | None = None
    replay_mode: Any = None
    root_hash: str | None = None
    first_step_index: int | None = None
    last_step_index: int | None = None
    starts_at: str | None = None
    ends_at: str | None = None


class RunCosts(BaseModel):
    records: list[dict[str, Any]] = Field(default_factory=list)
    total_cost_cents: Any = 0


class LlmRunRead(BaseModel):
    log_id: str
    run_id: str
    trace_id: str | None = None
    correlation_id: str | None = None
    agent_id: str | None = None
    status: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    steps: list[dict[str, Any]]
    costs: RunCosts
    replay_window: ReplayWindow
