"""Mismatch reports and records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class MismatchCreate(BaseModel):
    step_index: int = Field(ge=0, lt=2**31)
    reason: str = Field(min_length=1, max_length=256)
    expected_hash: str | None = Field(default=None, max_length=128)
    actual_hash: str | None = Field(default=None, max_length=128)
    details: dict[str, Any] = Field(default_factory=dict)


class MismatchEntry(BaseModel):
    """A mismatch as listed under its trace (the trace id is the listing's)."""

    mismatch_id: uuid.UUID
    step_index: int | None
    reason: str
    expected_hash: str | None
    actual_hash: str | None
    details: Any
    notification_sent: bool
    issue_url: str | None
    resolved: bool
    resolved_at: datetime | None
    resolved_by: str | None
    created_at: datetime


class MismatchRead(MismatchEntry):
    trace_id: str


class MismatchRecorded(BaseModel):
    """POST /{trace_id}/mismatch: `notified` is the channel used (github, webhook or none);
    `issue_url` only when a GitHub issue was opened."""

    mismatch_id: str
    trace_id: str
    status: Literal["recorded"]
    notified: str
    issue_url: str | None = None


class MismatchCounts(BaseModel):
    open: int
    resolved: int


class RecentMismatches(BaseModel):
    mismatches: list[MismatchRead]
    summary: MismatchCounts
    window: Literal["24h", "7d", "30d"]
    total: int


class TraceMismatches(BaseModel):
    trace_id: str
    mismatches: list[MismatchEntry]
    total: int


class MismatchResolved(BaseModel):
    status: Literal["resolved"]
    mismatch_id: str
    resolved_by: str


class BulkReport(BaseModel):
    linked_count: int
    traces_affected: int
    issue_url: str | None
    mismatch_ids: list[str]
