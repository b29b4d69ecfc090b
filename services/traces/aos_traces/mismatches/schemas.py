"""Mismatch reports and records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class MismatchCreate(BaseModel):
    step_index: int = Field(ge=0, lt=2**31)
    reason: str = Field(min_length=1, max_length=256)
    expected_hash: str | None = Field(default=None, max_length=128)
    actual_hash: str | None = Field(default=None, max_length=128)
    details: dict[str, Any] = Field(default_factory=dict)


class MismatchRead(BaseModel):
    mismatch_id: uuid.UUID
    trace_id: str
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
