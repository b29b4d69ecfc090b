"""SQL for reservations (asyncpg, inside the request's transaction: see aos_common.db.driver_connection)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from aos_common.db import status_page
from aos_cost_intel.budgets.repository import week_start
from aos_cost_intel.models import SCHEMA

COLUMNS = (
    "tenant_id, id, status, held_cents, charged_cents, budget_ids, user_id, feature_tag, model, "
    "run_id, api_key_id, expires_at, created_at, closed_at"
)


async def close_holds(
    conn: asyncpg.Connection,
    tenant_id: str,
    closing: Sequence[tuple[str, str, Decimal | None]],
    now: datetime,
) -> dict[str, list[asyncpg.Record]]:
    """Settle or release reservations of one tenant already locked by this transaction, given as
    (id, status, charged), in one statement (migration 0008's close_holds): their budgets locked
    once in id order, their keys charged, their holds taken off, their rows closed. Answers each
    reservation's budgets with what remains of them, (r_budget, r_remaining) rows by id."""
    today = now.date()
    rows = await conn.fetch(
        f"SELECT * FROM {SCHEMA}.close_holds($1, $2, $3, $4, $5, $6, $7, $8)",
        tenant_id,
        [reservation_id for reservation_id, _, _ in closing],
        [status for _, status, _ in closing],
        [charged for _, _, charged in closing],
        today,
        week_start(today),
        today.replace(day=1),
        now,
    )
    by_id: dict[str, list[asyncpg.Record]] = {
        reservation_id: [] for reservation_id, _, _ in closing
    }
    for row in rows:
        by_id[row["r_id"]].append(row)
    return by_id


async def lock_many(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], asyncpg.Record]:
    """Reservations by (tenant, id), locked in that order (the ones not found are absent).

    Each is looked up by its full primary key: with `id = ANY($2)` the prepared statement's
    generic plan scanned every reservation of the tenant and filtered (20 ms a call on one of
    60,000)."""
    ordered = sorted(set(keys))
    rows = await conn.fetch(
        f"SELECT x.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(tenant_id, id, n) "
        f"CROSS JOIN LATERAL (SELECT {COLUMNS} FROM {SCHEMA}.reservations "
        "WHERE tenant_id = q.tenant_id AND id = q.id FOR UPDATE) x ORDER BY q.n",
        [tenant_id for tenant_id, _ in ordered],
        [reservation_id for _, reservation_id in ordered],
    )
    return {(row["tenant_id"], row["id"]): row for row in rows}


async def find(
    conn: asyncpg.Connection, tenant_id: str, reservation_id: str, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM {SCHEMA}.reservations WHERE tenant_id = $1 AND id = $2{suffix}",
        tenant_id,
        reservation_id,
    )


async def fold_releases(conn: asyncpg.Connection, limit: int, released_before: datetime) -> int:
    """Fold hold releases made before `released_before` into their budgets' `held_cents` (what
    the next reservation on a budget does anyway), for budgets no reservation has come for since,
    so their releases do not pile up; a busy budget's are folded by its reservations first.
    Budgets locked by a reservation batch are skipped, never waited on; the releases and the held
    amount change in one statement. Answers how many budgets were folded."""
    return int(
        await conn.fetchval(
            f"""
            WITH locked AS (
                SELECT b.tenant_id, b.id FROM {SCHEMA}.budgets b
                 WHERE (b.tenant_id, b.id) IN (
                       SELECT DISTINCT r.tenant_id, r.budget_id
                         FROM {SCHEMA}.budget_hold_releases r WHERE r.released_at < $2)
                 ORDER BY b.tenant_id, b.id
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED
            ), gone AS (
                DELETE FROM {SCHEMA}.budget_hold_releases r USING locked l
                 WHERE r.tenant_id = l.tenant_id AND r.budget_id = l.id
             RETURNING r.tenant_id, r.budget_id, r.released_cents
            ), folded AS (
                UPDATE {SCHEMA}.budgets x SET held_cents = greatest(x.held_cents - g.total, 0)
                  FROM (SELECT tenant_id, budget_id, sum(released_cents) AS total
                          FROM gone GROUP BY tenant_id, budget_id) g
                 WHERE x.tenant_id = g.tenant_id AND x.id = g.budget_id
             RETURNING 1
            )
            SELECT count(*) FROM folded
            """,
            limit,
            released_before,
        )
    )


async def lock_expired(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Held reservations past their expiry, locked; ones another instance holds are skipped."""
    return await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM {SCHEMA}.reservations
        WHERE status = 'held' AND expires_at <= $1
        ORDER BY tenant_id, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
    )


async def list_for_tenant(
    conn: asyncpg.Connection, tenant_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    table = f"{SCHEMA}.reservations"
    return await status_page(conn, table, COLUMNS, tenant_id, status, limit, offset)
