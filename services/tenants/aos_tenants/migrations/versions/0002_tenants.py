"""Tenants, API keys, runs, usage records, the worker catalogue and tenant worker configs.

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenants"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("max_workers", sa.Integer(), nullable=False),
        sa.Column("max_runs_per_day", sa.Integer(), nullable=False),
        sa.Column("max_concurrent_runs", sa.Integer(), nullable=False),
        sa.Column("max_tokens_per_month", sa.BigInteger(), nullable=False),
        sa.Column("max_api_keys", sa.Integer(), nullable=False),
        sa.Column("runs_today", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("runs_day", sa.Date(), nullable=True),
        sa.Column("runs_this_month", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("runs_month", sa.Date(), nullable=True),
        sa.Column("tokens_this_month", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("tokens_month", sa.Date(), nullable=True),
        sa.Column("running_runs", sa.Integer(), nullable=False, server_default="0"),
        *_timestamps(),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="ck_tenants_status"),
        sa.CheckConstraint("running_runs >= 0", name="ck_tenants_running_runs"),
        schema=SCHEMA,
    )
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.String(20), sa.ForeignKey(f"{SCHEMA}.tenants.id"), primary_key=True),
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_prefix", sa.String(12), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("roles", postgresql.JSONB(), nullable=False),
        sa.Column("permissions", postgresql.JSONB(), nullable=False),
        sa.Column("allowed_workers", postgresql.JSONB(), nullable=True),
        sa.Column("rate_limit_rpm", sa.Integer(), nullable=True),
        sa.Column("max_concurrent_runs", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_requests", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(500), nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_api_keys_status"),
        schema=SCHEMA,
    )
    op.create_index("ix_api_keys_tenant_created", "api_keys", ["tenant_id", "created_at"], schema=SCHEMA)
    op.create_table(
        "runs",
        sa.Column("tenant_id", sa.String(20), sa.ForeignKey(f"{SCHEMA}.tenants.id"), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(20), nullable=True),
        sa.Column("principal_id", sa.String(128), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=True),
        sa.Column("total_latency_ms", sa.BigInteger(), nullable=True),
        sa.Column("cost_cents", sa.Numeric(18, 4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'aborted')", name="ck_runs_status"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_runs_tenant_created", "runs", ["tenant_id", "created_at"], schema=SCHEMA)
    op.create_index(
        "ix_runs_tenant_worker_created", "runs", ["tenant_id", "worker_id", "created_at"], schema=SCHEMA
    )
    op.create_index(
        "ix_runs_running_by_key",
        "runs",
        ["tenant_id", "key_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "usage_records",
        sa.Column("tenant_id", sa.String(20), primary_key=True),
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("meter", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 4), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_usage_records_tenant_recorded", "usage_records", ["tenant_id", "recorded_at"], schema=SCHEMA
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("moats", postgresql.JSONB(), nullable=False),
        sa.Column("tokens_per_run_estimate", sa.Integer(), nullable=False),
        sa.Column("cost_per_run_cents", sa.Integer(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("default_config", postgresql.JSONB(), nullable=False),
        sa.Column("input_schema", postgresql.JSONB(), nullable=False),
        sa.Column("output_schema", postgresql.JSONB(), nullable=False),
        *_timestamps(),
        schema=SCHEMA,
    )
    op.create_table(
        "tenant_worker_configs",
        sa.Column("tenant_id", sa.String(20), sa.ForeignKey(f"{SCHEMA}.tenants.id"), primary_key=True),
        sa.Column("worker_id", sa.String(64), sa.ForeignKey(f"{SCHEMA}.workers.id"), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("brand", postgresql.JSONB(), nullable=True),
        sa.Column("max_runs_per_day", sa.Integer(), nullable=True),
        sa.Column("max_tokens_per_run", sa.Integer(), nullable=True),
        *_timestamps(),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("tenant_worker_configs", schema=SCHEMA)
    op.drop_table("workers", schema=SCHEMA)
    op.drop_index("ix_usage_records_tenant_recorded", table_name="usage_records", schema=SCHEMA)
    op.drop_table("usage_records", schema=SCHEMA)
    op.drop_index("ix_runs_running_by_key", table_name="runs", schema=SCHEMA)
    op.drop_index("ix_runs_tenant_worker_created", table_name="runs", schema=SCHEMA)
    op.drop_index("ix_runs_tenant_created", table_name="runs", schema=SCHEMA)
    op.drop_table("runs", schema=SCHEMA)
    op.drop_index("ix_api_keys_tenant_created", table_name="api_keys", schema=SCHEMA)
    op.drop_table("api_keys", schema=SCHEMA)
    op.drop_table("tenants", schema=SCHEMA)
