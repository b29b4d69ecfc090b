"""Indexes behind the revocation list every service asks for each second: keys revoked, or past
their expiry, within a signed context's lifetime (aos_common.revocation).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tenants"


def upgrade() -> None:
    op.create_index(
        "ix_api_keys_revoked_at",
        "api_keys",
        ["revoked_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
    )
    op.create_index(
        "ix_api_keys_expires_at",
        "api_keys",
        ["expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_api_keys_expires_at", table_name="api_keys", schema=SCHEMA)
    op.drop_index("ix_api_keys_revoked_at", table_name="api_keys", schema=SCHEMA)
