"""SQL for budgets and breach history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_common.ids import new_id
from aos_cost_intel.engines.budgets import Budget as BudgetLimits
from aos_cost_intel.models import Budget, BudgetBreach


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


async def applicable(
    session: AsyncSession, tenant_id: str, feature_tag: str | None, user_id: str | None
) -> list[BudgetLimits]:
    """The active budgets a call is subject to: the tenant's, its feature's and its user's."""
    wanted = [("tenant", "")]
    if feature_tag:
        wanted.append(("feature", feature_tag))
    if user_id:
        wanted.append(("user", user_id))
    statement = tenant_scoped(select(Budget), Budget.tenant_id, tenant_id).where(
        Budget.is_active.is_(True)
    )
    rows = {
        (row.budget_type, row.entity_key): row for row in (await session.scalars(statement)).all()
    }
    return [limits_of(rows[key]) for key in wanted if key in rows]


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
