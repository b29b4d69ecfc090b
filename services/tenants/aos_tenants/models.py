"""Tables of the tenants service, all in the `tenants` schema.

Tenant-scoped tables lead their primary key and indexes with `tenant_id` (Citus-ready). The run
counters live on the tenant row so that one conditional UPDATE decides a run start atomically.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aos_common.db import schema_metadata
from aos_common.idempotency import idempotency_table
from aos_common.outbox import outbox_table

SCHEMA = "tenants"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
idempotency_keys = idempotency_table(Base.metadata)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    plan: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    max_workers: Mapped[int] = mapped_column(Integer)
    max_runs_per_day: Mapped[int] = mapped_column(Integer)
    max_concurrent_runs: Mapped[int] = mapped_column(Integer)
    max_tokens_per_month: Mapped[int] = mapped_column(BigInteger)
    max_api_keys: Mapped[int] = mapped_column(Integer)
    runs_today: Mapped[int] = mapped_column(Integer, default=0)
    runs_day: Mapped[date | None] = mapped_column(Date)
    runs_this_month: Mapped[int] = mapped_column(Integer, default=0)
    runs_month: Mapped[date | None] = mapped_column(Date)
    tokens_this_month: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_month: Mapped[date | None] = mapped_column(Date)
    running_runs: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_tenant_created", "tenant_id", "created_at"),
        Index(
            "ix_api_keys_revoked_at", "revoked_at", postgresql_where=text("revoked_at IS NOT NULL")
        ),
        Index(
            "ix_api_keys_expires_at", "expires_at", postgresql_where=text("expires_at IS NOT NULL")
        ),
    )

    tenant_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("tenants.tenants.id"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    roles: Mapped[list[str]] = mapped_column(JSONB)
    permissions: Mapped[list[str]] = mapped_column(JSONB)
    allowed_workers: Mapped[list[str] | None] = mapped_column(JSONB)
    rate_limit_rpm: Mapped[int | None] = mapped_column(Integer)
    max_concurrent_runs: Mapped[int | None] = mapped_column(Integer)
    budget_limit_cents: Mapped[Decimal | None] = mapped_column(Numeric)
    budget_period: Mapped[str | None] = mapped_column(String(8))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    total_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(500))


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_tenant_created", "tenant_id", "created_at"),
        Index("ix_runs_tenant_worker_created", "tenant_id", "worker_id", "created_at"),
        Index(
            "ix_runs_running_by_key",
            "tenant_id",
            "key_id",
            postgresql_where=text("status = 'running'"),
        ),
    )

    tenant_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("tenants.tenants.id"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(20))
    principal_id: Mapped[str] = mapped_column(String(128))
    total_tokens: Mapped[int | None] = mapped_column(BigInteger)
    total_latency_ms: Mapped[int | None] = mapped_column(BigInteger)
    cost_cents: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UsageRecord(Base):
    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_tenant_recorded", "tenant_id", "recorded_at"),)

    tenant_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    meter: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    unit: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    moats: Mapped[list[str]] = mapped_column(JSONB)
    tokens_per_run_estimate: Mapped[int] = mapped_column(Integer)
    cost_per_run_cents: Mapped[int] = mapped_column(Integer)
    is_public: Mapped[bool] = mapped_column(Boolean)
    default_config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSONB)
    output_schema: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TenantWorkerConfig(Base):
    __tablename__ = "tenant_worker_configs"

    tenant_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("tenants.tenants.id"), primary_key=True
    )
    worker_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.workers.id"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    brand: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    max_runs_per_day: Mapped[int | None] = mapped_column(Integer)
    max_tokens_per_run: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
