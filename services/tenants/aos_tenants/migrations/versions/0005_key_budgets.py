"""Per-key budgets: an API key's own spend limit and period, enforced by cost-intel (as an
`api_key` budget it is told about through the outbox) and shown in the key listing.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenants"


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("budget_limit_cents", sa.Numeric()), schema=SCHEMA)
    op.add_column("api_keys", sa.Column("budget_period", sa.String(8)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("api_keys", "budget_period", schema=SCHEMA)
    op.drop_column("api_keys", "budget_limit_cents", schema=SCHEMA)
