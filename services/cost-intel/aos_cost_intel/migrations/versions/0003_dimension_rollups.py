"""Per-dimension rollups for fast panels: one row per (tenant, dimension, grain, bucket, key).

The wide rollups (tenant, bucket, feature, user, model) multiply every user by the features and
models they use; a panel needs one dimension at a time. This table holds, per hour ('h') and per
UTC day ('d'), the totals of the tenant (dim 'total', key ''), of each feature, of each user
('' = anonymous) and of each model, maintained in the same transaction as the records.

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE {SCHEMA}.cost_rollups_dim (
            tenant_id varchar(64) NOT NULL,
            dim varchar(8) NOT NULL,
            grain char(1) NOT NULL,
            bucket timestamptz NOT NULL,
            key varchar(256) NOT NULL,
            cost_cents numeric NOT NULL DEFAULT 0,
            request_count bigint NOT NULL DEFAULT 0,
            input_tokens bigint NOT NULL DEFAULT 0,
            output_tokens bigint NOT NULL DEFAULT 0,
            cache_read_input_tokens bigint NOT NULL DEFAULT 0,
            cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
            reasoning_output_tokens bigint NOT NULL DEFAULT 0,
            CONSTRAINT pk_cost_rollups_dim PRIMARY KEY (tenant_id, dim, grain, bucket, key),
            CONSTRAINT ck_cost_rollups_dim_dim CHECK (dim IN ('total', 'feature', 'user', 'model')),
            CONSTRAINT ck_cost_rollups_dim_grain CHECK (grain IN ('h', 'd'))
        )
        """
    )
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.cost_rollups_dim
        SELECT tenant_id,
               CASE WHEN GROUPING(feature_tag) = 0 THEN 'feature' WHEN GROUPING(user_id) = 0 THEN 'user'
                    WHEN GROUPING(model) = 0 THEN 'model' ELSE 'total' END,
               'h', hour, coalesce(feature_tag, user_id, model, ''),
               sum(cost_cents), sum(request_count), sum(input_tokens), sum(output_tokens),
               sum(cache_read_input_tokens), sum(cache_creation_input_tokens), sum(reasoning_output_tokens)
        FROM {SCHEMA}.cost_rollups_hourly
        GROUP BY GROUPING SETS ((tenant_id, hour), (tenant_id, hour, feature_tag),
                                (tenant_id, hour, user_id), (tenant_id, hour, model))
        """
    )
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.cost_rollups_dim
        SELECT tenant_id,
               CASE WHEN GROUPING(feature_tag) = 0 THEN 'feature' WHEN GROUPING(user_id) = 0 THEN 'user'
                    WHEN GROUPING(model) = 0 THEN 'model' ELSE 'total' END,
               'd', (day::timestamp AT TIME ZONE 'UTC'), coalesce(feature_tag, user_id, model, ''),
               sum(cost_cents), sum(request_count), sum(input_tokens), sum(output_tokens),
               sum(cache_read_input_tokens), sum(cache_creation_input_tokens), sum(reasoning_output_tokens)
        FROM {SCHEMA}.cost_rollups_daily
        GROUP BY GROUPING SETS ((tenant_id, day), (tenant_id, day, feature_tag),
                                (tenant_id, day, user_id), (tenant_id, day, model))
        """
    )


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {SCHEMA}.cost_rollups_dim")
