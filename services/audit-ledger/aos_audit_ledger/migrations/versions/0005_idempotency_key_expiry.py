"""The index behind the purge of idempotency keys past their 24 h lifetime
(aos_common.idempotency_purge), which would otherwise scan the whole table.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from aos_common.migrations import create_idempotency_expiry_index, drop_idempotency_expiry_index

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "audit"


def upgrade() -> None:
    create_idempotency_expiry_index(SCHEMA)


def downgrade() -> None:
    drop_idempotency_expiry_index(SCHEMA)
