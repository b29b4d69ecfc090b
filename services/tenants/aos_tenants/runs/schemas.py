"""Pydantic I/O of runs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["running", "succeeded", "failed", "aborted"]
FinalStatus = Literal["succeeded", "failed", "aborted"]
TASK_PREVIEW_CHARS = 200


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: str = Field(min_length=1, max_length=64)
    task: str = Field(max_length=100_000)
    run_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")


class RunCreated(BaseModel):
    id: str
    worker_id: str
    task: str
    status: RunStatus
    created_at: datetime


class RunUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: FinalStatus
    total_tokens: int | None = Field(default=None, ge=0, le=10**12)
    total_latency_ms: int | None = Field(default=None, ge=0, le=10**12)
    cost_cents: float | None = Field(default=None, ge=0, le=10**12)


class RunRead(BaseModel):
    id: str
    worker_id: str
    task: str
    status: RunStatus
    success: bool | None
    total_tokens: int | None
    total_latency_ms: int | None
    cost_cents: float | None
    created_at: datetime
    completed_at: datetime | None
