"""Pydantic I/O of the export history (`log_exports`, API.md guard-logs section)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class LogExportCreate(BaseModel):
    """What the export stream knows once it has finished."""

    id: str
    tenant_id: str
    principal_id: str
    principal_type: str
    key_id: str | None
    request_id: str | None
    format: str
    filters: dict[str, Any]
    status: str
    row_count: int
    byte_count: int
    sha256: str
    started_at: datetime
    completed_at: datetime
    duration_ms: int
    audit_entry_id: str | None = None


class LogExportRead(LogExportCreate):
    """One row of the export history (`log_exports`)."""

    audit_entry_id: str | None  # stored, so always present in an answer
