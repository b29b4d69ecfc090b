"""Who replayed: `replay_checks.checked_by`, the principal of the replay call, so the replay
checks read route (GET /api/v1/traces/{trace_id}/replay/checks) can say who checked a step.
Checks recorded before this migration have none.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "traces"


def upgrade() -> None:
    op.add_column(
        "replay_checks", sa.Column("checked_by", sa.String(128), nullable=True), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_column("replay_checks", "checked_by", schema=SCHEMA)
