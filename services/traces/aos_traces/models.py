"""Tables of the traces service, all in the `traces` schema.

`trace_steps` is range-partitioned by month on the step timestamp (monthly partitions are created
on demand, a default partition catches the rest), so its primary key includes the timestamp.
Completed traces are immutable: a trigger (migration 0002) lets only `archived_at` change.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aos_common.db import schema_metadata
from aos_common.idempotency import idempotency_table
from aos_common.outbox import outbox_table

SCHEMA = "traces"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
idempotency_keys = idempotency_table(Base.metadata)


class _TraceColumns:
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(128))
    correlation_id: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(128))
    plan: Mapped[Any] = mapped_column(JSONB, nullable=True)
    trace_metadata: Mapped[Any] = mapped_column("metadata", JSONB, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(BigInteger)
    frozen_timestamp: Mapped[str | None] = mapped_column(String(64))
    root_hash: Mapped[str] = mapped_column(String(64))
    client_root_hash: Mapped[str | None] = mapped_column(String(128))
    hash_verified: Mapped[bool] = mapped_column(Boolean)
    plan_hash: Mapped[str | None] = mapped_column(String(128))
    schema_version: Mapped[str] = mapped_column(String(16))
    is_synthetic: Mapped[bool] = mapped_column(Boolean)
    incident_id: Mapped[str | None] = mapped_column(String(128))
    replay_mode: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))
    total_steps: Mapped[int] = mapped_column(Integer)
    success_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    total_cost_cents: Mapped[float] = mapped_column(Float)
    total_duration_ms: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # OTLP late spans (migration 0003): when the root hash becomes final, and amendments after.
    hash_final_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    final_root_hash: Mapped[str | None] = mapped_column(String(64))
    amended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TraceRow(_TraceColumns, Base):
    __tablename__ = "traces"
    __table_args__ = (
        Index("ix_traces_started", "tenant_id", text("started_at DESC")),
        Index("ix_traces_run", "tenant_id", "run_id"),
        Index("ix_traces_root_hash", "tenant_id", "root_hash"),
        Index(
            "ix_traces_incident",
            "tenant_id",
            "incident_id",
            postgresql_where=text("incident_id IS NOT NULL"),
        ),
        Index("ix_traces_created", "tenant_id", "created_at"),
    )

    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TraceArchiveRow(_TraceColumns, Base):
    __tablename__ = "traces_archive"

    archived_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class _StepColumns:
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    step_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    skill_id: Mapped[str] = mapped_column(String(256))
    skill_name: Mapped[str] = mapped_column(String(256))
    params: Mapped[Any] = mapped_column(JSONB, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    outcome_category: Mapped[str] = mapped_column(String(64))
    outcome_code: Mapped[str | None] = mapped_column(String(128))
    outcome_data: Mapped[Any] = mapped_column(JSONB, nullable=True)
    cost_cents: Mapped[float] = mapped_column(Float)
    duration_ms: Mapped[float] = mapped_column(Float)
    retry_count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(8))
    input_hash: Mapped[str] = mapped_column(String(128))
    output_hash: Mapped[str] = mapped_column(String(128))
    rng_state_before: Mapped[str | None] = mapped_column(String(512))
    idempotency_key: Mapped[str | None] = mapped_column(String(256))
    replay_behavior: Mapped[str] = mapped_column(String(8))
    span_id: Mapped[str | None] = mapped_column(String(32))


class TraceStepRow(_StepColumns, Base):
    __tablename__ = "trace_steps"
    __table_args__ = (
        Index("ix_trace_steps_timestamp", "timestamp", postgresql_using="brin"),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )


class TraceStepArchiveRow(_StepColumns, Base):
    __tablename__ = "trace_steps_archive"

    archived_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class MismatchRow(Base):
    __tablename__ = "trace_mismatches"
    __table_args__ = (
        Index("ix_trace_mismatches_trace", "tenant_id", "trace_id"),
        Index("ix_trace_mismatches_created", "tenant_id", "created_at"),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(128))
    step_index: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(256))
    expected_hash: Mapped[str | None] = mapped_column(String(128))
    actual_hash: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[Any] = mapped_column(JSONB, nullable=True)
    reported_by: Mapped[str | None] = mapped_column(String(128))
    notification_sent: Mapped[bool] = mapped_column(Boolean, server_default="false")
    issue_url: Mapped[str | None] = mapped_column(Text)
    resolved: Mapped[bool] = mapped_column(Boolean, server_default="false")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AmendmentRow(Base):
    """A late span that changed the root hash of a trace whose hash was already final."""

    __tablename__ = "trace_amendments"
    __table_args__ = (Index("ix_trace_amendments_trace", "tenant_id", "trace_id"),)

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(128))
    previous_root_hash: Mapped[str] = mapped_column(String(64))
    root_hash: Mapped[str] = mapped_column(String(64))
    steps_added: Mapped[int] = mapped_column(Integer)
    span_ids: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EvidenceRow(Base):
    """Evidence of a class for a trace, or (failure_type set) a failure to capture it."""

    __tablename__ = "trace_evidence"
    __table_args__ = (Index("ix_trace_evidence_trace", "tenant_id", "trace_id"),)

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(128))
    evidence_class: Mapped[str] = mapped_column(String(32))
    failure_type: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[Any] = mapped_column(JSONB, nullable=True)
    recorded_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdempotencyRecordRow(Base):
    """First execution of a step idempotency key within a tenant (first truth wins)."""

    __tablename__ = "idempotency_records"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(256), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(128))
    step_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    output_hash: Mapped[str | None] = mapped_column(String(128))
    output: Mapped[Any] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReplayCheckRow(Base):
    """Every server-side replay call (execute/skip/check) and what it found."""

    __tablename__ = "replay_checks"
    __table_args__ = (Index("ix_replay_checks_trace", "tenant_id", "trace_id"),)

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(128))
    step_index: Mapped[int] = mapped_column(Integer)
    behavior: Mapped[str] = mapped_column(String(8))
    expected_hash: Mapped[str | None] = mapped_column(String(128))
    actual_hash: Mapped[str | None] = mapped_column(String(128))
    match: Mapped[bool | None] = mapped_column(Boolean)
    checked_by: Mapped[str | None] = mapped_column(String(128))  # the replaying principal (0006)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
