"""Cost-intel tables: feature tags, the versioned price book, cost records (partitioned by month),
request-id claims, hourly and daily rollups, budgets, anomalies and breach history.

Exactly-once per request id: a unique index on a partitioned table must contain the partition key
(occurred_at), so `(tenant_id, request_id)` cannot be unique on cost_records itself. The claim lives
in `cost_request_ids` (primary key (tenant_id, request_id)), inserted in the same transaction as the
record; a second insert of the same request id conflicts there and is answered with the first
record.

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"
TS = sa.DateTime(timezone=True)
FIRST_MONTH = date(2025, 1, 1)
MONTHS = 36


def _now() -> sa.TextClause:
    return sa.text("now()")


def _token_columns() -> list[sa.Column]:
    return [
        sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "reasoning_output_tokens",
        )
    ]


def _rollup(name: str, bucket: str, bucket_type: sa.types.TypeEngine) -> None:
    op.create_table(
        name,
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column(bucket, bucket_type, nullable=False),
        sa.Column("feature_tag", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("cost_cents", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("request_count", sa.BigInteger(), nullable=False, server_default="0"),
        *_token_columns(),
        sa.PrimaryKeyConstraint(
            "tenant_id", bucket, "feature_tag", "user_id", "model", name=f"pk_{name}"
        ),
        schema=SCHEMA,
    )


def _month_partitions() -> list[tuple[str, date, date]]:
    result = []
    year, month = FIRST_MONTH.year, FIRST_MONTH.month
    for _ in range(MONTHS):
        start = date(year, month, 1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        result.append((f"cost_records_y{start.year}m{start.month:02d}", start, date(year, month, 1)))
    return result


def upgrade() -> None:
    op.create_table(
        "feature_tags",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("budget_cents", sa.Numeric(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", TS, nullable=False, server_default=_now()),
        sa.Column("updated_at", TS, nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_feature_tags"),
        sa.UniqueConstraint("tenant_id", "tag", name="uq_feature_tags_tenant_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "price_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("loaded_at", TS, nullable=False, server_default=_now()),
        sa.Column("loaded_by", sa.String(128), nullable=False),
        sa.Column("sequence", sa.BigInteger(), sa.Identity(), nullable=False, unique=True),
        schema=SCHEMA,
    )
    op.create_table(
        "model_prices",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("pattern", sa.String(500), nullable=False),
        sa.Column("input", sa.Numeric(), nullable=False),
        sa.Column("cache_read", sa.Numeric(), nullable=False),
        sa.Column("cache_creation", sa.Numeric(), nullable=False),
        sa.Column("output", sa.Numeric(), nullable=False),
        sa.Column("reasoning", sa.Numeric(), nullable=False),
        sa.Column("effective_from", TS, nullable=False),
        sa.Column("effective_to", TS, nullable=True),
        sa.PrimaryKeyConstraint("version", "position", name="pk_model_prices"),
        sa.ForeignKeyConstraint(
            ["version"], [f"{SCHEMA}.price_versions.version"], name="fk_model_prices_version",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.execute(
        f"""
        CREATE TABLE {SCHEMA}.cost_records (
            tenant_id varchar(64) NOT NULL,
            occurred_at timestamptz NOT NULL,
            id varchar(32) NOT NULL,
            user_id varchar(256),
            feature_tag varchar(128) NOT NULL,
            request_id varchar(256),
            workflow_id varchar(256),
            skill_id varchar(256),
            model varchar(200) NOT NULL,
            input_tokens bigint NOT NULL DEFAULT 0,
            output_tokens bigint NOT NULL DEFAULT 0,
            cache_read_input_tokens bigint NOT NULL DEFAULT 0,
            cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
            reasoning_output_tokens bigint NOT NULL DEFAULT 0,
            cost_cents numeric NOT NULL,
            cost_source varchar(16) NOT NULL,
            price_version varchar(64),
            recorded_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_cost_records PRIMARY KEY (tenant_id, occurred_at, id)
        ) PARTITION BY RANGE (occurred_at)
        """
    )
    op.execute(f"CREATE INDEX ix_cost_records_occurred_brin ON {SCHEMA}.cost_records USING brin (occurred_at)")
    op.execute(
        f"CREATE INDEX ix_cost_records_workflow ON {SCHEMA}.cost_records (tenant_id, workflow_id) "
        "WHERE workflow_id IS NOT NULL"
    )
    op.execute(f"CREATE TABLE {SCHEMA}.cost_records_default PARTITION OF {SCHEMA}.cost_records DEFAULT")
    for name, start, end in _month_partitions():
        op.execute(
            f"CREATE TABLE {SCHEMA}.{name} PARTITION OF {SCHEMA}.cost_records "
            f"FOR VALUES FROM ('{start.isoformat()}T00:00:00+00:00') TO ('{end.isoformat()}T00:00:00+00:00')"
        )
    op.execute(
        f"""
        CREATE TABLE {SCHEMA}.cost_request_ids (
            tenant_id varchar(64) NOT NULL,
            request_id varchar(256) COLLATE "C" NOT NULL,
            record_id varchar(32) NOT NULL,
            occurred_at timestamptz NOT NULL,
            CONSTRAINT pk_cost_request_ids PRIMARY KEY (tenant_id, request_id)
        )
        """
    )
    _rollup("cost_rollups_hourly", "hour", TS)
    _rollup("cost_rollups_daily", "day", sa.Date())
    op.create_table(
        "budgets",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("budget_type", sa.String(16), nullable=False),
        sa.Column("entity_key", sa.String(256), nullable=False),
        sa.Column("daily_limit_cents", sa.Numeric(), nullable=True),
        sa.Column("monthly_limit_cents", sa.Numeric(), nullable=True),
        sa.Column("warn_threshold_pct", sa.Integer(), nullable=False, server_default="80"),
        sa.Column("hard_limit_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", TS, nullable=False, server_default=_now()),
        sa.Column("updated_at", TS, nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_budgets"),
        sa.UniqueConstraint("tenant_id", "budget_type", "entity_key", name="uq_budgets_tenant_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "anomalies",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("anomaly_type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("entity_type", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("current_value_cents", sa.Numeric(), nullable=False),
        sa.Column("expected_value_cents", sa.Numeric(), nullable=False),
        sa.Column("deviation_pct", sa.Numeric(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("derived_cause", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=True),
        sa.Column("action_taken", sa.Text(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("detected_at", TS, nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_anomalies"),
        sa.UniqueConstraint(
            "tenant_id", "anomaly_type", "entity_type", "entity_id", "day", name="uq_anomalies_tenant_id"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_anomalies_detected", "anomalies", ["tenant_id", "detected_at"], schema=SCHEMA)
    op.create_table(
        "budget_breaches",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("budget_id", sa.String(32), nullable=False),
        sa.Column("anomaly_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("limit_cents", sa.Numeric(), nullable=False),
        sa.Column("spend_cents", sa.Numeric(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_budget_breaches"),
        sa.UniqueConstraint("tenant_id", "budget_id", "kind", "day", name="uq_budget_breaches_tenant_id"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "budget_breaches",
        "anomalies",
        "budgets",
        "cost_rollups_daily",
        "cost_rollups_hourly",
        "cost_request_ids",
        "cost_records",
        "model_prices",
        "price_versions",
        "feature_tags",
    ):
        op.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table} CASCADE")
