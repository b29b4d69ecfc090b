"""Free room on rollup pages, so that ingestion updates rollup rows in place.

Every ingest call adds to the same recent hour and day rows. On full pages each such update writes
the new row version on another page plus a new primary-key entry, and the table and its index swell
between vacuums. With 30 % of each page kept free, Postgres puts the new version on the same page
without touching the index (a heap-only-tuple update) and prunes the old one as it goes, so
repeated 10,000-record batches stay cheap (docs/PERFORMANCE.md, cost_queries). Only pages written
from now on keep the room; nothing is rewritten.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"
TABLES = ("cost_rollups_hourly", "cost_rollups_daily", "cost_rollups_dim")
FILLFACTOR = 70


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {SCHEMA}.{table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {SCHEMA}.{table} RESET (fillfactor)")
