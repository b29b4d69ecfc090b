"""Reservations in batches, and a hold taken off in one statement.

- `reserve_holds`: the reservations one service worker gathered (group commit,
  reservations/batcher.py) in ONE statement: every applicable hard budget of the whole batch is
  locked once, in (tenant, id) order (the order every other lock on budgets follows), its recorded
  spend read once, then the reservations are decided one by one in arrival order against the
  running held amounts, exactly as `reserve_hold` (0006) would decide them one after another.
  On a contended budget the row lock and the commit are paid once per batch, not per caller.
- `close_holds`: the tail of settles and releases of one tenant (their reservation rows already
  locked by the caller's transaction; one, or a batch gathered by reservations/closing.py): lock
  their budgets once in id order, charge their API keys, take the holds off, close the
  reservations and answer each held budget's remaining allowance, in one round trip, so the
  budget locks are held for one statement and the commit.
- `budget_window_spend`: the recorded spend of one budget's windows (UTC day, ISO week, calendar
  month), as `reserve_hold` reads it; both functions above share it.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cost_intel"

WINDOW_SPEND = f"""
CREATE FUNCTION {SCHEMA}.budget_window_spend(
    p_tenant text, p_type text, p_key text, p_today date, p_week date, p_month date,
    OUT spent_d numeric, OUT spent_w numeric, OUT spent_m numeric
)
LANGUAGE plpgsql AS $$
DECLARE
    first_day date := least(p_week, p_month);
BEGIN
    IF p_type = 'api_key' THEN
        SELECT coalesce(sum(k.cost_cents) FILTER (WHERE k.day = p_today), 0),
               coalesce(sum(k.cost_cents) FILTER (WHERE k.day >= p_week), 0),
               coalesce(sum(k.cost_cents) FILTER (WHERE k.day >= p_month), 0)
          INTO spent_d, spent_w, spent_m
          FROM {SCHEMA}.key_spend_daily k
         WHERE k.tenant_id = p_tenant AND k.key_id = p_key
           AND k.day >= first_day AND k.day <= p_today;
    ELSE
        SELECT coalesce(sum(r.cost_cents) FILTER (WHERE r.bucket >= p_today::timestamp AT TIME ZONE 'UTC'), 0),
               coalesce(sum(r.cost_cents) FILTER (WHERE r.bucket >= p_week::timestamp AT TIME ZONE 'UTC'), 0),
               coalesce(sum(r.cost_cents) FILTER (WHERE r.bucket >= p_month::timestamp AT TIME ZONE 'UTC'), 0)
          INTO spent_d, spent_w, spent_m
          FROM {SCHEMA}.cost_rollups_dim r
         WHERE r.tenant_id = p_tenant
           AND r.dim = CASE p_type WHEN 'tenant' THEN 'total' ELSE p_type END
           AND r.grain = 'd' AND r.key = p_key
           AND r.bucket >= first_day::timestamp AT TIME ZONE 'UTC'
           AND r.bucket <= p_today::timestamp AT TIME ZONE 'UTC';
    END IF;
END
$$
"""

# Items are parallel arrays (one element per reservation, in arrival order); `p_w_item` names,
# for each applicable (budget_type, entity_key), the 1-based item it belongs to. Answers one row
# per held budget of an accepted item (r_refused = false; none for an item no hard budget
# applies to, which is accepted with no budgets), or one row naming the refusing budget.
RESERVE_HOLDS = f"""
CREATE FUNCTION {SCHEMA}.reserve_holds(
    p_tenants text[], p_amounts numeric[], p_ids text[], p_users text[], p_features text[],
    p_models text[], p_runs text[], p_keys text[], p_expires timestamptz[],
    p_w_item int[], p_w_types text[], p_w_keys text[],
    p_today date, p_week date, p_month date, p_now timestamptz
) RETURNS TABLE (r_item int, r_budget text, r_period text, r_remaining numeric, r_refused boolean)
LANGUAGE plpgsql AS $$
DECLARE
    b record;
    s record;
    n int := coalesce(array_length(p_ids, 1), 0);
    b_tenant text[] := '{{}}';
    b_id text[] := '{{}}';
    b_type text[] := '{{}}';
    b_key text[] := '{{}}';
    b_held numeric[] := '{{}}';
    b_delta numeric[] := '{{}}';
    b_dl numeric[] := '{{}}';
    b_wl numeric[] := '{{}}';
    b_ml numeric[] := '{{}}';
    b_sd numeric[] := '{{}}';
    b_sw numeric[] := '{{}}';
    b_sm numeric[] := '{{}}';
    pair_item int[];
    pair_ord int[];
    npairs int;
    pos int := 1;
    first_pos int;
    i int;
    j int;
    amount numeric;
    left_over numeric;
    tightest numeric;
    refusal_budget int;
    refusal_period text;
    refusal_left numeric;
    lefts numeric[];
    held_ids text[];
    acc int[] := '{{}}';
    acc_budgets text[] := '{{}}';
BEGIN
    FOR b IN
        SELECT x.tenant_id, x.id, x.budget_type, x.entity_key, x.held_cents,
               x.daily_limit_cents, x.weekly_limit_cents, x.monthly_limit_cents
        FROM {SCHEMA}.budgets x
        JOIN (SELECT DISTINCT p_tenants[w.item] AS tenant_id, w.budget_type, w.entity_key
                FROM unnest(p_w_item, p_w_types, p_w_keys) AS w(item, budget_type, entity_key)
             ) wanted
          ON x.tenant_id = wanted.tenant_id AND x.budget_type = wanted.budget_type
         AND x.entity_key = wanted.entity_key
        WHERE x.is_active AND x.hard_limit_enabled
        ORDER BY x.tenant_id, x.id
        FOR UPDATE OF x
    LOOP
        s := {SCHEMA}.budget_window_spend(
            b.tenant_id, b.budget_type, b.entity_key, p_today, p_week, p_month);
        b_tenant := b_tenant || b.tenant_id::text;
        b_id := b_id || b.id::text;
        b_type := b_type || b.budget_type::text;
        b_key := b_key || b.entity_key::text;
        b_held := b_held || b.held_cents;
        b_delta := b_delta || 0::numeric;
        b_dl := b_dl || b.daily_limit_cents;
        b_wl := b_wl || b.weekly_limit_cents;
        b_ml := b_ml || b.monthly_limit_cents;
        b_sd := b_sd || s.spent_d;
        b_sw := b_sw || s.spent_w;
        b_sm := b_sm || s.spent_m;
    END LOOP;
    -- Each item's budgets, items in order, each item's budgets in lock (id) order.
    SELECT coalesce(array_agg(w.item ORDER BY w.item, l.ord), '{{}}'),
           coalesce(array_agg(l.ord::int ORDER BY w.item, l.ord), '{{}}')
      INTO pair_item, pair_ord
      FROM unnest(p_w_item, p_w_types, p_w_keys) AS w(item, budget_type, entity_key)
      JOIN unnest(b_tenant, b_type, b_key) WITH ORDINALITY AS l(tenant_id, budget_type, entity_key, ord)
        ON l.tenant_id = p_tenants[w.item] AND l.budget_type = w.budget_type
       AND l.entity_key = w.entity_key;
    npairs := coalesce(array_length(pair_item, 1), 0);
    FOR i IN 1..n LOOP
        amount := p_amounts[i];
        first_pos := pos;
        refusal_budget := NULL;
        lefts := '{{}}';
        WHILE pos <= npairs AND pair_item[pos] = i LOOP
            j := pair_ord[pos];
            pos := pos + 1;
            CONTINUE WHEN refusal_budget IS NOT NULL;
            tightest := NULL;
            IF b_dl[j] IS NOT NULL THEN
                left_over := b_dl[j] - b_sd[j] - b_held[j];
                IF left_over < amount THEN
                    refusal_budget := j; refusal_period := 'Daily'; refusal_left := left_over;
                    CONTINUE;
                END IF;
                tightest := least(coalesce(tightest, left_over), left_over);
            END IF;
            IF b_wl[j] IS NOT NULL THEN
                left_over := b_wl[j] - b_sw[j] - b_held[j];
                IF left_over < amount THEN
                    refusal_budget := j; refusal_period := 'Weekly'; refusal_left := left_over;
                    CONTINUE;
                END IF;
                tightest := least(coalesce(tightest, left_over), left_over);
            END IF;
            IF b_ml[j] IS NOT NULL THEN
                left_over := b_ml[j] - b_sm[j] - b_held[j];
                IF left_over < amount THEN
                    refusal_budget := j; refusal_period := 'Monthly'; refusal_left := left_over;
                    CONTINUE;
                END IF;
                tightest := least(coalesce(tightest, left_over), left_over);
            END IF;
            lefts := lefts || coalesce(tightest - amount, 0);
        END LOOP;
        IF refusal_budget IS NOT NULL THEN
            r_item := i; r_budget := b_id[refusal_budget]; r_period := refusal_period;
            r_remaining := greatest(refusal_left, 0); r_refused := true;
            RETURN NEXT;
            CONTINUE;
        END IF;
        held_ids := '{{}}';
        FOR k IN first_pos..pos - 1 LOOP
            j := pair_ord[k];
            b_held[j] := b_held[j] + amount;
            b_delta[j] := b_delta[j] + amount;
            held_ids := held_ids || b_id[j];
            r_item := i; r_budget := b_id[j]; r_period := NULL;
            r_remaining := lefts[k - first_pos + 1]; r_refused := false;
            RETURN NEXT;
        END LOOP;
        acc := acc || i;
        acc_budgets := acc_budgets || array_to_string(held_ids, ',');
    END LOOP;
    UPDATE {SCHEMA}.budgets x SET held_cents = x.held_cents + d.delta
      FROM unnest(b_tenant, b_id, b_delta) AS d(tenant_id, id, delta)
     WHERE x.tenant_id = d.tenant_id AND x.id = d.id AND d.delta <> 0;
    INSERT INTO {SCHEMA}.reservations (
        tenant_id, id, status, held_cents, charged_cents, budget_ids, user_id, feature_tag,
        model, run_id, api_key_id, expires_at, created_at, closed_at
    )
    SELECT p_tenants[a.i], p_ids[a.i], 'held', p_amounts[a.i], NULL,
           CASE WHEN a.budgets = '' THEN '{{}}'::text[] ELSE string_to_array(a.budgets, ',') END,
           p_users[a.i], p_features[a.i], p_models[a.i], p_runs[a.i], p_keys[a.i],
           p_expires[a.i], p_now, NULL
      FROM unnest(acc, acc_budgets) AS a(i, budgets);
END
$$
"""

CLOSE_HOLDS = f"""
CREATE FUNCTION {SCHEMA}.close_holds(
    p_tenant text, p_ids text[], p_statuses text[], p_charged numeric[],
    p_today date, p_week date, p_month date, p_now timestamptz
) RETURNS TABLE (r_id text, r_budget text, r_remaining numeric)
LANGUAGE plpgsql AS $$
DECLARE
    b record;
    s record;
    left_over numeric;
    tightest numeric;
    held_ids text[];
    rb_id text[] := '{{}}';
    rb_left numeric[] := '{{}}';
BEGIN
    SELECT coalesce(array_agg(DISTINCT u.budget_id), '{{}}') INTO held_ids
      FROM {SCHEMA}.reservations x, unnest(x.budget_ids) AS u(budget_id)
     WHERE x.tenant_id = p_tenant AND x.id = ANY(p_ids);
    PERFORM 1 FROM {SCHEMA}.budgets x
      WHERE x.tenant_id = p_tenant AND x.id = ANY(held_ids) ORDER BY x.id FOR UPDATE;
    INSERT INTO {SCHEMA}.key_spend_daily AS k (tenant_id, key_id, day, cost_cents)
    SELECT p_tenant, x.api_key_id, p_today, sum(c.charged)
      FROM {SCHEMA}.reservations x
      JOIN unnest(p_ids, p_charged) AS c(id, charged) ON x.id = c.id
     WHERE x.tenant_id = p_tenant AND x.api_key_id IS NOT NULL AND coalesce(c.charged, 0) <> 0
     GROUP BY x.api_key_id ORDER BY x.api_key_id
    ON CONFLICT (tenant_id, key_id, day)
    DO UPDATE SET cost_cents = k.cost_cents + EXCLUDED.cost_cents;
    UPDATE {SCHEMA}.budgets x SET held_cents = greatest(x.held_cents - h.total, 0)
      FROM (SELECT u.budget_id, sum(r.held_cents) AS total
              FROM {SCHEMA}.reservations r, unnest(r.budget_ids) AS u(budget_id)
             WHERE r.tenant_id = p_tenant AND r.id = ANY(p_ids)
             GROUP BY u.budget_id) h
     WHERE x.tenant_id = p_tenant AND x.id = h.budget_id AND h.total <> 0;
    UPDATE {SCHEMA}.reservations x
       SET status = c.status, charged_cents = c.charged, closed_at = p_now
      FROM unnest(p_ids, p_statuses, p_charged) AS c(id, status, charged)
     WHERE x.tenant_id = p_tenant AND x.id = c.id;
    FOR b IN
        SELECT x.id, x.budget_type, x.entity_key, x.held_cents, x.daily_limit_cents,
               x.weekly_limit_cents, x.monthly_limit_cents
          FROM {SCHEMA}.budgets x
         WHERE x.tenant_id = p_tenant AND x.id = ANY(held_ids) ORDER BY x.id
    LOOP
        s := {SCHEMA}.budget_window_spend(
            p_tenant, b.budget_type, b.entity_key, p_today, p_week, p_month);
        tightest := NULL;
        IF b.daily_limit_cents IS NOT NULL THEN
            left_over := greatest(b.daily_limit_cents - s.spent_d - b.held_cents, 0);
            tightest := least(coalesce(tightest, left_over), left_over);
        END IF;
        IF b.weekly_limit_cents IS NOT NULL THEN
            left_over := greatest(b.weekly_limit_cents - s.spent_w - b.held_cents, 0);
            tightest := least(coalesce(tightest, left_over), left_over);
        END IF;
        IF b.monthly_limit_cents IS NOT NULL THEN
            left_over := greatest(b.monthly_limit_cents - s.spent_m - b.held_cents, 0);
            tightest := least(coalesce(tightest, left_over), left_over);
        END IF;
        rb_id := rb_id || b.id::text;
        rb_left := rb_left || coalesce(tightest, 0);
    END LOOP;
    RETURN QUERY
        SELECT x.id::text, u.budget_id::text, l.left_over
          FROM {SCHEMA}.reservations x
          CROSS JOIN LATERAL unnest(x.budget_ids) AS u(budget_id)
          JOIN unnest(rb_id, rb_left) AS l(id, left_over) ON l.id = u.budget_id
         WHERE x.tenant_id = p_tenant AND x.id = ANY(p_ids)
         ORDER BY x.id, u.budget_id;
END
$$
"""


def upgrade() -> None:
    op.execute(WINDOW_SPEND)
    op.execute(RESERVE_HOLDS)
    op.execute(CLOSE_HOLDS)


def downgrade() -> None:
    op.execute(
        f"DROP FUNCTION {SCHEMA}.close_holds(text, text[], text[], numeric[], date, date, date, "
        "timestamptz)"
    )
    op.execute(
        f"DROP FUNCTION {SCHEMA}.reserve_holds(text[], numeric[], text[], text[], text[], "
        "text[], text[], text[], timestamptz[], int[], text[], text[], date, date, date, "
        "timestamptz)"
    )
    op.execute(f"DROP FUNCTION {SCHEMA}.budget_window_spend(text, text, text, date, date, date)")
