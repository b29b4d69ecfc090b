"""Idempotency keys in Postgres, written in the same transaction as the write they protect, so
that exactly-once holds with Redis stopped (aos_common.idempotency).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from aos_common.migrations import create_idempotency_table, drop_idempotency_table

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"


def upgrade() -> None:
    create_idempotency_table(SCHEMA)


def downgrade() -> None:
    drop_idempotency_table(SCHEMA)
