"""Idempotency keys in Postgres, written in the same transaction as the write they protect, so
that exactly-once holds with Redis stopped (aos_common.idempotency).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from aos_common.migrations import create_idempotency_table, drop_idempotency_table

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "traces"


def upgrade() -> None:
    create_idempotency_table(SCHEMA)


def downgrade() -> None:
    drop_idempotency_table(SCHEMA)
