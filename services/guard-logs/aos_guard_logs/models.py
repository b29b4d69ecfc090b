"""Tables of the guard-logs service, all in the `guard_logs` schema.

Guard-logs owns no copy of trace data: runs, steps, audit entries and costs are read from their
services on demand. What it owns is the record of every export it served.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aos_common.db import schema_metadata
from aos_common.outbox import outbox_table

SCHEMA = "guard_logs"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)


class LogExport(Base):
    """One export as it was served: who asked, with which filters, and the digest of the bytes sent."""

    __tablename__ = "log_exports"
    __table_args__ = (
        Index("ix_log_exports_tenant_created", "tenant_id", "created_at"),
        CheckConstraint("format IN ('json', 'csv', 'ndjson')", name="format"),
        CheckConstraint("status IN ('completed', 'failed', 'aborted')", name="status"),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(128))
    principal_type: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    row_count: Mapped[int] = mapped_column(Integer)
    byte_count: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    audit_entry_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
