"""`reserve_holds` and `close_holds` run their statements on generic plans (planned once per
connection), and `reserve_holds` writes the held amounts back to the budget rows it locked by row
id.

Why: five of their statements take arrays whose length a custom plan sees and a generic one does
not, so PostgreSQL's plan cache judged the generic plan dearer and planned them again on every
call: the budget lock and the held-amount update of `reserve_holds`, the reservation read and
update of `close_holds` (pg_stat_statements with track_planning: plans = calls). That was 0.58 ms
of PostgreSQL CPU per reservation batch and settle batch together, paid in full by a batch of one
(a reserve + settle at 100 calls/s each cost 3.6 ms of PostgreSQL CPU). Every statement of the two
functions has a plan that does not depend on the arrays' length: primary or unique key lookups
per element, the reservations read and updated by row id (0010), and now the budgets too. Their
update went through the (tenant, id) join, which a generic plan could make an index scan on the
tenant alone, every budget of the tenant read for each one held.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

from aos_cost_intel.migrations.earlier import earlier_revision

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"
SIGNATURES = (
    f"{SCHEMA}.reserve_holds(text[], numeric[], text[], text[], text[], text[], text[], text[], "
    "timestamptz[], int[], text[], text[], date, date, date, timestamptz)",
    f"{SCHEMA}.close_holds(text, text[], text[], numeric[], date, date, date, timestamptz)",
)
# The edits to 0010's reserve_holds: the lock loop keeps each budget's row id, the update uses it.
EDITS = (
    ("    b_id text[] := '{{}}';\n", "    b_id text[] := '{{}}';\n    b_row tid[] := '{{}}';\n"),
    ("        SELECT x.tenant_id, x.id,", "        SELECT x.ctid, x.tenant_id, x.id,"),
    (
        "        b_id := b_id || b.id::text;\n",
        "        b_id := b_id || b.id::text;\n        b_row := b_row || b.ctid;\n",
    ),
    (
        "      FROM unnest(b_tenant, b_id, b_delta) AS d(tenant_id, id, delta)\n"
        "     WHERE x.tenant_id = d.tenant_id AND x.id = d.id AND d.delta <> 0;",
        "      FROM unnest(b_row, b_delta) AS d(row_id, delta)\n"
        "     WHERE x.ctid = d.row_id AND d.delta <> 0;",
    ),
)


def reserve_holds_by_row_id(definition: str) -> str:
    """0010's reserve_holds with the budgets updated by the row ids their lock read."""
    for old, new in EDITS:
        old, new = old.format(), new.format()  # the source's doubled braces, as executed
        if definition.count(old) != 1:
            raise RuntimeError(f"0010's reserve_holds changed; cannot find {old!r} once")
        definition = definition.replace(old, new)
    return definition


def upgrade() -> None:
    op.execute(reserve_holds_by_row_id(earlier_revision("0010_hold_releases.py").RESERVE_HOLDS))
    for signature in SIGNATURES:
        op.execute(f"ALTER FUNCTION {signature} SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    for signature in SIGNATURES:
        op.execute(f"ALTER FUNCTION {signature} RESET plan_cache_mode")
    op.execute(earlier_revision("0010_hold_releases.py").RESERVE_HOLDS)
