"""Budget alerts: thresholds per budget, one alert per (budget, period window, threshold), the
tenant's webhook and the delivery log of signed webhook calls (an outbox of its own: the service
outbox delivers to AOS services only, these go to the tenant's URL).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "budgets",
        sa.Column(
            "alert_thresholds",
            postgresql.ARRAY(sa.Integer()),
            nullable=False,
            server_default=sa.text("'{50,80,100}'"),
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "budget_alerts",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("budget_id", sa.String(32), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.Numeric(), nullable=False),
        sa.Column("limit_cents", sa.Numeric(), nullable=False),
        sa.Column("fired_at", TS, nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "budget_id", "period", "window_start", "threshold",
            name="pk_budget_alerts",
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "alert_webhooks",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_deliveries"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries", schema=SCHEMA)
    op.drop_table("webhook_deliveries", schema=SCHEMA)
    op.drop_table("alert_webhooks", schema=SCHEMA)
    op.drop_table("budget_alerts", schema=SCHEMA)
    op.drop_column("budgets", "alert_thresholds", schema=SCHEMA)
