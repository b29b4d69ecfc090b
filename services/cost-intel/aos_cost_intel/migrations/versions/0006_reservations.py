"""Budget reservations (authorize, settle, release), held amounts on budgets, weekly limits,
per-key budgets and each budget's policy when its guard cannot be asked.

`budgets.held_cents` is the sum of the active holds against the budget. It is changed only while
the budget row is locked (reserve, settle, release, expiry), in the same transaction as the
reservation row, so it can never drift from the reservations table.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"
TS = sa.DateTime(timezone=True)

# One statement, run outside any transaction, so the budget rows stay locked only while Postgres
# runs it (no client round trip inside the lock): lock the applicable hard budgets in id order,
# read each window's recorded spend after the lock, check every limit, then add the hold and
# insert the reservation. A refused call returns the refusing budget (refused = true) and changes
# nothing. The windows are those of domain/budgets.py (UTC day, ISO week, calendar month).
RESERVE_HOLD = f"""
CREATE FUNCTION {SCHEMA}.reserve_hold(
    p_tenant text, p_types text[], p_keys text[], p_amount numeric,
    p_today date, p_week date, p_month date,
    p_id text, p_user text, p_feature text, p_model text, p_run text, p_key text,
    p_expires timestamptz, p_now timestamptz
) RETURNS TABLE (budget_id text, period text, remaining numeric, refused boolean)
LANGUAGE plpgsql AS $$
DECLARE
    b record;
    first_day date := least(p_week, p_month);
    spent_d numeric;
    spent_w numeric;
    spent_m numeric;
    left_over numeric;
    tightest numeric;
    ids text[] := '{{}}';
    lefts numeric[] := '{{}}';
BEGIN
    FOR b IN
        SELECT x.id, x.budget_type, x.entity_key, x.held_cents, x.daily_limit_cents,
               x.weekly_limit_cents, x.monthly_limit_cents
        FROM {SCHEMA}.budgets x
        JOIN unnest(p_types, p_keys) AS w(budget_type, entity_key)
          ON x.budget_type = w.budget_type AND x.entity_key = w.entity_key
        WHERE x.tenant_id = p_tenant AND x.is_active AND x.hard_limit_enabled
        ORDER BY x.id
        FOR UPDATE OF x
    LOOP
        IF b.budget_type = 'api_key' THEN
            SELECT coalesce(sum(k.cost_cents) FILTER (WHERE k.day = p_today), 0),
                   coalesce(sum(k.cost_cents) FILTER (WHERE k.day >= p_week), 0),
                   coalesce(sum(k.cost_cents) FILTER (WHERE k.day >= p_month), 0)
              INTO spent_d, spent_w, spent_m
              FROM {SCHEMA}.key_spend_daily k
             WHERE k.tenant_id = p_tenant AND k.key_id = b.entity_key
               AND k.day >= first_day AND k.day <= p_today;
        ELSE
            SELECT coalesce(sum(r.cost_cents) FILTER (WHERE r.bucket >= p_today::timestamp AT TIME ZONE 'UTC'), 0),
                   coalesce(sum(r.cost_cents) FILTER (WHERE r.bucket >= p_week::timestamp AT TIME ZONE 'UTC'), 0),
                   coalesce(sum(r.cost_cents) FILTER (WHERE r.bucket >= p_month::timestamp AT TIME ZONE 'UTC'), 0)
              INTO spent_d, spent_w, spent_m
              FROM {SCHEMA}.cost_rollups_dim r
             WHERE r.tenant_id = p_tenant
               AND r.dim = CASE b.budget_type WHEN 'tenant' THEN 'total' ELSE b.budget_type END
               AND r.grain = 'd' AND r.key = b.entity_key
               AND r.bucket >= first_day::timestamp AT TIME ZONE 'UTC'
               AND r.bucket <= p_today::timestamp AT TIME ZONE 'UTC';
        END IF;
        tightest := NULL;
        IF b.daily_limit_cents IS NOT NULL THEN
            left_over := b.daily_limit_cents - spent_d - b.held_cents;
            IF left_over < p_amount THEN
                RETURN QUERY SELECT b.id::text, 'Daily'::text, greatest(left_over, 0), true;
                RETURN;
            END IF;
            tightest := least(coalesce(tightest, left_over), left_over);
        END IF;
        IF b.weekly_limit_cents IS NOT NULL THEN
            left_over := b.weekly_limit_cents - spent_w - b.held_cents;
            IF left_over < p_amount THEN
                RETURN QUERY SELECT b.id::text, 'Weekly'::text, greatest(left_over, 0), true;
                RETURN;
            END IF;
            tightest := least(coalesce(tightest, left_over), left_over);
        END IF;
        IF b.monthly_limit_cents IS NOT NULL THEN
            left_over := b.monthly_limit_cents - spent_m - b.held_cents;
            IF left_over < p_amount THEN
                RETURN QUERY SELECT b.id::text, 'Monthly'::text, greatest(left_over, 0), true;
                RETURN;
            END IF;
            tightest := least(coalesce(tightest, left_over), left_over);
        END IF;
        ids := ids || b.id::text;
        lefts := lefts || coalesce(tightest - p_amount, 0);
    END LOOP;
    IF p_amount <> 0 THEN
        UPDATE {SCHEMA}.budgets SET held_cents = held_cents + p_amount
         WHERE tenant_id = p_tenant AND id = ANY(ids);
    END IF;
    INSERT INTO {SCHEMA}.reservations (
        tenant_id, id, status, held_cents, charged_cents, budget_ids, user_id, feature_tag,
        model, run_id, api_key_id, expires_at, created_at, closed_at
    ) VALUES (
        p_tenant, p_id, 'held', p_amount, NULL, ids, p_user, p_feature, p_model, p_run, p_key,
        p_expires, p_now, NULL
    );
    RETURN QUERY SELECT u.id, NULL::text, u.left_over, false
                 FROM unnest(ids, lefts) AS u(id, left_over);
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "budgets",
        sa.Column("held_cents", sa.Numeric(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.add_column("budgets", sa.Column("weekly_limit_cents", sa.Numeric()), schema=SCHEMA)
    op.add_column("budgets", sa.Column("on_unavailable", sa.String(8)), schema=SCHEMA)
    op.create_table(
        "reservations",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("held_cents", sa.Numeric(), nullable=False),
        sa.Column("charged_cents", sa.Numeric(), nullable=True),
        sa.Column("budget_ids", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("feature_tag", sa.String(128), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("run_id", sa.String(256), nullable=True),
        sa.Column("api_key_id", sa.String(64), nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_reservations"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_reservations_expiry",
        "reservations",
        ["expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_table(
        "key_spend_daily",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cost_cents", sa.Numeric(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", "day", name="pk_key_spend_daily"),
        schema=SCHEMA,
    )
    op.execute(RESERVE_HOLD)


def downgrade() -> None:
    op.execute(
        f"DROP FUNCTION {SCHEMA}.reserve_hold(text, text[], text[], numeric, date, date, date, "
        "text, text, text, text, text, text, timestamptz, timestamptz)"
    )
    op.drop_table("key_spend_daily", schema=SCHEMA)
    op.drop_index("ix_reservations_expiry", table_name="reservations", schema=SCHEMA)
    op.drop_table("reservations", schema=SCHEMA)
    op.drop_column("budgets", "on_unavailable", schema=SCHEMA)
    op.drop_column("budgets", "weekly_limit_cents", schema=SCHEMA)
    op.drop_column("budgets", "held_cents", schema=SCHEMA)
