"""Pydantic I/O of the worker catalogue and tenant worker configs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aos_common.bounds import INT32_MAX


class WorkerSummary(BaseModel):
    id: str
    name: str
    description: str
    version: str
    status: str
    moats: list[str]
    tokens_per_run_estimate: int
    cost_per_run_cents: int


class AvailableWorker(WorkerSummary):
    enabled: bool


class WorkerDetail(WorkerSummary):
    is_public: bool
    default_config: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class WorkerConfigRead(BaseModel):
    worker_id: str
    enabled: bool
    config: dict[str, Any]
    brand: dict[str, Any] | None
    max_runs_per_day: int | None
    max_tokens_per_run: int | None


class WorkerConfigUpdate(BaseModel):
    """PUT replaces the tenant's override as a whole; omitted fields fall back to the defaults."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    config: dict[str, Any] | None = None
    brand: dict[str, Any] | None = None
    max_runs_per_day: int | None = Field(default=None, ge=1, le=100_000_000)
    max_tokens_per_run: int | None = Field(default=None, ge=1000, le=INT32_MAX)
