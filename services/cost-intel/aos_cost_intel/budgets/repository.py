"""SQL for budgets and breach history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_common.ids import new_id
from aos_cost_intel.domain.budgets import Budget as BudgetLimits
from aos_cost_intel.domain.money import ZERO
from aos_cost_intel.models import SCHEMA, Budget, BudgetBreach
from aos_cost_intel.reports.repository import midnight

DIMENSIONS = {"tenant": "total", "feature": "feature", "user": "user", "api_key": "api_key"}


def limits_of(row: Budget) -> BudgetLimits:
    return BudgetLimits(
        id=row.id,
        budget_type=row.budget_type,
        entity_id=row.entity_key or None,
        daily_limit_cents=row.daily_limit_cents,
        monthly_limit_cents=row.monthly_limit_cents,
        warn_threshold_pct=row.warn_threshold_pct,
        hard_limit_enabled=row.hard_limit_enabled,
        is_active=row.is_active,
        weekly_limit_cents=row.weekly_limit_cents,
        held_cents=row.held_cents,
        on_unavailable=row.on_unavailable,
        alert_thresholds=tuple(row.alert_thresholds),
    )


def limits_of_record(row: asyncpg.Record) -> BudgetLimits:
    return BudgetLimits(
        id=row["id"],
        budget_type=row["budget_type"],
        entity_id=row["entity_key"] or None,
        daily_limit_cents=row["daily_limit_cents"],
        monthly_limit_cents=row["monthly_limit_cents"],
        warn_threshold_pct=row["warn_threshold_pct"],
        hard_limit_enabled=row["hard_limit_enabled"],
        is_active=row["is_active"],
        weekly_limit_cents=row["weekly_limit_cents"],
        held_cents=row["held_cents"],
        on_unavailable=row["on_unavailable"],
        alert_thresholds=tuple(row["alert_thresholds"]),
    )


async def find(
    session: AsyncSession, tenant_id: str, budget_type: str, entity_key: str
) -> BudgetLimits | None:
    statement = tenant_scoped(select(Budget), Budget.tenant_id, tenant_id).where(
        Budget.budget_type == budget_type, Budget.entity_key == entity_key
    )
    row = (await session.scalars(statement)).one_or_none()
    return None if row is None else limits_of(row)


async def upsert(session: AsyncSession, values: dict[str, Any]) -> BudgetLimits:
    changes = {
        k: v
        for k, v in values.items()
        if k not in ("tenant_id", "id", "budget_type", "entity_key", "created_at")
    }
    statement = (
        insert(Budget)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["tenant_id", "budget_type", "entity_key"], set_=changes
        )
        .returning(Budget)
    )
    return limits_of((await session.execute(statement)).scalar_one())


async def list_budgets(session: AsyncSession, tenant_id: str) -> list[BudgetLimits]:
    statement = tenant_scoped(select(Budget), Budget.tenant_id, tenant_id).order_by(
        Budget.budget_type, Budget.entity_key
    )
    return [limits_of(row) for row in (await session.scalars(statement)).all()]


def applicable_keys(
    feature_tag: str | None, user_id: str | None, api_key_id: str | None = None
) -> list[tuple[str, str]]:
    """(budget_type, entity_key) of every budget a call is subject to."""
    wanted = [("tenant", "")]
    if feature_tag:
        wanted.append(("feature", feature_tag))
    if user_id:
        wanted.append(("user", user_id))
    if api_key_id:
        wanted.append(("api_key", api_key_id))
    return wanted


async def applicable(
    session: AsyncSession,
    tenant_id: str,
    feature_tag: str | None,
    user_id: str | None,
    api_key_id: str | None = None,
) -> list[BudgetLimits]:
    """The active budgets a call is subject to: the tenant's, its feature's, its user's and its
    API key's."""
    wanted = applicable_keys(feature_tag, user_id, api_key_id)
    statement = tenant_scoped(select(Budget), Budget.tenant_id, tenant_id).where(
        Budget.is_active.is_(True)
    )
    rows = {
        (row.budget_type, row.entity_key): row for row in (await session.scalars(statement)).all()
    }
    return [limits_of(rows[key]) for key in wanted if key in rows]


async def find_by_ids(
    conn: asyncpg.Connection, tenant_id: str, budget_ids: Sequence[str]
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT * FROM {SCHEMA}.budgets WHERE tenant_id = $1 AND id = ANY($2::text[]) ORDER BY id",
        tenant_id,
        list(budget_ids),
    )


async def pending_releases(
    conn: asyncpg.Connection, tenant_id: str, budget_ids: Sequence[str]
) -> dict[str, Decimal]:
    """Per budget, the holds taken off since a reservation last folded them into `held_cents`
    (migration 0010): a budget holds `held_cents` minus this."""
    rows = await conn.fetch(
        f"SELECT budget_id, sum(released_cents) AS total FROM {SCHEMA}.budget_hold_releases "
        "WHERE tenant_id = $1 AND budget_id = ANY($2::text[]) GROUP BY budget_id",
        tenant_id,
        list(budget_ids),
    )
    return {row["budget_id"]: row["total"] for row in rows}


def week_start(day: date) -> date:
    """Monday of the ISO week (UTC) that holds `day`."""
    return day - timedelta(days=day.weekday())


async def window_spend(
    conn: asyncpg.Connection, tenant_id: str, budgets: Sequence[BudgetLimits], today: date
) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """(today, this week, this month) of recorded spend per budget, in one statement: tenant,
    feature and user budgets read the daily dimension rollups, API-key budgets key_spend_daily."""
    if not budgets:
        return {}
    week, month = week_start(today), today.replace(day=1)
    first = min(week, month)
    rows = await conn.fetch(
        f"""
        WITH wanted AS (
            SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS w(budget_id, dim, key)
        ), spend AS (
            SELECT w.budget_id, (r.bucket AT TIME ZONE 'UTC')::date AS day, r.cost_cents
            FROM wanted w JOIN {SCHEMA}.cost_rollups_dim r
              ON r.tenant_id = $1 AND r.dim = w.dim AND r.grain = 'd' AND r.key = w.key
             AND r.bucket >= $5 AND r.bucket <= $6
            WHERE w.dim <> 'api_key'
            UNION ALL
            SELECT w.budget_id, k.day, k.cost_cents
            FROM wanted w JOIN {SCHEMA}.key_spend_daily k
              ON k.tenant_id = $1 AND k.key_id = w.key AND k.day >= $7 AND k.day <= $8
            WHERE w.dim = 'api_key'
        )
        SELECT budget_id,
               sum(cost_cents) FILTER (WHERE day = $8) AS daily,
               sum(cost_cents) FILTER (WHERE day >= $9) AS weekly,
               sum(cost_cents) FILTER (WHERE day >= $10) AS monthly
        FROM spend GROUP BY budget_id
        """,
        tenant_id,
        [b.id for b in budgets],
        [DIMENSIONS[b.budget_type] for b in budgets],
        [b.entity_id or "" for b in budgets],
        midnight(first),
        midnight(today),
        first,
        today,
        week,
        month,
    )
    found = {
        row["budget_id"]: (row["daily"] or ZERO, row["weekly"] or ZERO, row["monthly"] or ZERO)
        for row in rows
    }
    return {b.id: found.get(b.id, (ZERO, ZERO, ZERO)) for b in budgets}


async def add_key_spend_days(
    conn: asyncpg.Connection, tenant_id: str, key_id: str, days: dict[date, Decimal]
) -> None:
    """Add each day's cost to an API key's spend, in one statement (days in order, so two
    callers charging the same key lock its day rows in the same order)."""
    ordered = sorted(days)
    await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.key_spend_daily AS k (tenant_id, key_id, day, cost_cents)
        SELECT $1, $2, d.day, d.cost FROM unnest($3::date[], $4::numeric[]) AS d(day, cost)
        ON CONFLICT (tenant_id, key_id, day) DO UPDATE SET cost_cents = k.cost_cents + EXCLUDED.cost_cents
        """,
        tenant_id,
        key_id,
        ordered,
        [days[day] for day in ordered],
    )


async def record_breach(
    session: AsyncSession,
    tenant_id: str,
    *,
    budget_id: str,
    anomaly_id: str | None,
    kind: str,
    limit_cents: Decimal,
    spend_cents: Decimal,
    day: date,
) -> None:
    """One breach-history row per (budget, kind, day)."""
    await session.execute(
        insert(BudgetBreach)
        .values(
            tenant_id=tenant_id,
            id=new_id("bh_"),
            budget_id=budget_id,
            anomaly_id=anomaly_id,
            kind=kind,
            limit_cents=limit_cents,
            spend_cents=spend_cents,
            day=day,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "budget_id", "kind", "day"])
    )
