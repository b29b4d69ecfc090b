"""The transactional outbox of the audit-ledger service.

Revision ID: 0001
Revises:
"""
from collections.abc import Sequence

from aos_common.migrations import create_outbox_table, drop_outbox_table

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "audit"


def upgrade() -> None:
    create_outbox_table(SCHEMA)


def downgrade() -> None:
    drop_outbox_table(SCHEMA)
