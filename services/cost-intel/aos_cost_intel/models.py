"""Tables of the cost-intel service, all in the `cost_intel` schema (see migration 0002 for the
partitioning of cost_records and why request ids are claimed in their own table)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aos_common.db import schema_metadata
from aos_common.idempotency import idempotency_table
from aos_common.outbox import outbox_table

SCHEMA = "cost_intel"
TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
idempotency_keys = idempotency_table(Base.metadata)


class FeatureTag(Base):
    __tablename__ = "feature_tags"
    __table_args__ = (UniqueConstraint("tenant_id", "tag", name="uq_feature_tags_tenant_id"),)

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    budget_cents: Mapped[Decimal | None] = mapped_column(Numeric)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class PriceVersion(Base):
    __tablename__ = "price_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(TS)
    loaded_by: Mapped[str] = mapped_column(String(128))
    sequence: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)


class ModelPriceRow(Base):
    __tablename__ = "model_prices"
    __table_args__ = (
        ForeignKeyConstraint(
            ["version"],
            [f"{SCHEMA}.price_versions.version"],
            name="fk_model_prices_version",
            ondelete="CASCADE",
        ),
    )

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(64))
    pattern: Mapped[str] = mapped_column(String(500))
    input: Mapped[Decimal] = mapped_column(Numeric)
    cache_read: Mapped[Decimal] = mapped_column(Numeric)
    cache_creation: Mapped[Decimal] = mapped_column(Numeric)
    output: Mapped[Decimal] = mapped_column(Numeric)
    reasoning: Mapped[Decimal] = mapped_column(Numeric)
    effective_from: Mapped[datetime] = mapped_column(TS)
    effective_to: Mapped[datetime | None] = mapped_column(TS)


class CostRecord(Base):
    __tablename__ = "cost_records"
    __table_args__ = (
        Index("ix_cost_records_occurred_brin", "occurred_at", postgresql_using="brin"),
        Index(
            "ix_cost_records_workflow",
            "tenant_id",
            "workflow_id",
            postgresql_where=text("workflow_id IS NOT NULL"),
        ),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(TS, primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(256))
    feature_tag: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(256))
    workflow_id: Mapped[str | None] = mapped_column(String(256))
    skill_id: Mapped[str | None] = mapped_column(String(256))
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_creation_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_cents: Mapped[Decimal] = mapped_column(Numeric)
    cost_source: Mapped[str] = mapped_column(String(16))
    price_version: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(TS)


class CostRequestId(Base):
    __tablename__ = "cost_request_ids"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(256, collation="C"), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(TS)


class _RollupColumns:
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    feature_tag: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    cost_cents: Mapped[Decimal] = mapped_column(Numeric)
    request_count: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_input_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_creation_input_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_output_tokens: Mapped[int] = mapped_column(BigInteger)


class HourlyRollup(_RollupColumns, Base):
    """Per (tenant, hour, feature, user, model); `user_id` '' stands for no user."""

    __tablename__ = "cost_rollups_hourly"

    hour: Mapped[datetime] = mapped_column(TS, primary_key=True)


class DailyRollup(_RollupColumns, Base):
    """The same per UTC day: long windows read days, and hours only at their ragged start."""

    __tablename__ = "cost_rollups_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class DimensionRollup(Base):
    """Per (tenant, dimension, grain, bucket, key): what panels read (migration 0003)."""

    __tablename__ = "cost_rollups_dim"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dim: Mapped[str] = mapped_column(String(8), primary_key=True)
    grain: Mapped[str] = mapped_column(CHAR(1), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(TS, primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    cost_cents: Mapped[Decimal] = mapped_column(Numeric)
    request_count: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_input_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_creation_input_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_output_tokens: Mapped[int] = mapped_column(BigInteger)


class Budget(Base):
    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "budget_type", "entity_key", name="uq_budgets_tenant_id"),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    budget_type: Mapped[str] = mapped_column(String(16))
    entity_key: Mapped[str] = mapped_column(String(256))
    daily_limit_cents: Mapped[Decimal | None] = mapped_column(Numeric)
    monthly_limit_cents: Mapped[Decimal | None] = mapped_column(Numeric)
    weekly_limit_cents: Mapped[Decimal | None] = mapped_column(Numeric)
    held_cents: Mapped[Decimal] = mapped_column(Numeric, default=Decimal(0))
    on_unavailable: Mapped[str | None] = mapped_column(String(8))
    alert_thresholds: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=[50, 80, 100])
    warn_threshold_pct: Mapped[int] = mapped_column(default=80)
    hard_limit_enabled: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class Anomaly(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "anomaly_type",
            "entity_type",
            "entity_id",
            "day",
            name="uq_anomalies_tenant_id",
        ),
        Index("ix_anomalies_detected", "tenant_id", "detected_at"),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    anomaly_type: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(256))
    day: Mapped[date] = mapped_column(Date)
    current_value_cents: Mapped[Decimal] = mapped_column(Numeric)
    expected_value_cents: Mapped[Decimal] = mapped_column(Numeric)
    deviation_pct: Mapped[Decimal] = mapped_column(Numeric)
    message: Mapped[str] = mapped_column(Text)
    derived_cause: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[str | None] = mapped_column(String(64))
    action_taken: Mapped[str | None] = mapped_column(Text)
    resolved: Mapped[bool] = mapped_column(default=False)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    detected_at: Mapped[datetime] = mapped_column(TS)


class BudgetBreach(Base):
    __tablename__ = "budget_breaches"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "budget_id", "kind", "day", name="uq_budget_breaches_tenant_id"
        ),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    budget_id: Mapped[str] = mapped_column(String(32))
    anomaly_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    limit_cents: Mapped[Decimal] = mapped_column(Numeric)
    spend_cents: Mapped[Decimal] = mapped_column(Numeric)
    day: Mapped[date] = mapped_column(Date)
    occurred_at: Mapped[datetime] = mapped_column(TS)


class Reservation(Base):
    """A hold on every hard budget that applied when it was authorized (migration 0006)."""

    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_expiry", "expires_at", postgresql_where=text("status = 'held'")),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    held_cents: Mapped[Decimal] = mapped_column(Numeric)
    charged_cents: Mapped[Decimal | None] = mapped_column(Numeric)
    budget_ids: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    user_id: Mapped[str | None] = mapped_column(String(256))
    feature_tag: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(200))
    run_id: Mapped[str | None] = mapped_column(String(256))
    api_key_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS)
    closed_at: Mapped[datetime | None] = mapped_column(TS)


class BudgetHoldRelease(Base):
    """A hold taken off a budget by a settle, release or expiry, not yet folded into
    `Budget.held_cents` (the next reservation on the budget folds it, migration 0010): settles
    never lock budget rows. A budget's held amount is `held_cents` minus these."""

    __tablename__ = "budget_hold_releases"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    budget_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    released_cents: Mapped[Decimal] = mapped_column(Numeric)
    released_at: Mapped[datetime] = mapped_column(TS, server_default=text("now()"))


class KeySpendDaily(Base):
    """Spend recorded under one API key per UTC day: what a per-key budget is measured on."""

    __tablename__ = "key_spend_daily"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    cost_cents: Mapped[Decimal] = mapped_column(Numeric)


class BudgetAlert(Base):
    """One alert per (budget, period window, threshold): what makes it fire once (0007)."""

    __tablename__ = "budget_alerts"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    budget_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    window_start: Mapped[date] = mapped_column(Date, primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer, primary_key=True)
    spend_cents: Mapped[Decimal] = mapped_column(Numeric)
    limit_cents: Mapped[Decimal] = mapped_column(Numeric)
    fired_at: Mapped[datetime] = mapped_column(TS)


class AlertWebhook(Base):
    __tablename__ = "alert_webhooks"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(TS)


class WebhookDelivery(Base):
    """A signed webhook call to send, sent, or given up on: the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TS)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    delivered_at: Mapped[datetime | None] = mapped_column(TS)
