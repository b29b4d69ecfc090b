"""Budgets: upsert (audited as LimitCreated / LimitUpdated), current spend, and the guard that
enforces hard limits before a call is made."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common import domain_metrics
from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.auth import Principal
from aos_common.db import driver_connection
from aos_common.errors import BadRequest
from aos_common.ids import new_id
from aos_cost_intel.budgets import repository
from aos_cost_intel.budgets.schemas import BudgetCreate, BudgetRead, GuardRead
from aos_cost_intel.domain.budgets import Budget, BudgetSpend, guard
from aos_cost_intel.domain.money import EXACT, ZERO, plain
from aos_cost_intel.models import outbox

BUDGET_TYPES = ("tenant", "feature", "user", "api_key")


def today_utc() -> date:
    return datetime.now(UTC).date()


async def spend_of(
    session: AsyncSession, tenant_id: str, budget: Budget, today: date
) -> BudgetSpend:
    [state] = await spends_of(session, tenant_id, [budget], today)
    return state


async def spends_of(
    session: AsyncSession, tenant_id: str, budgets: list[Budget], today: date
) -> list[BudgetSpend]:
    """Each budget with its recorded spend today, this week and this month, and what it holds.

    The holds taken off but not yet folded into the budget row are read before the spend: a
    settle committing in between is then counted twice (its hold and its charge), never
    missed, as in `reserve_holds` (migration 0010)."""
    conn = await driver_connection(session)
    released = await repository.pending_releases(conn, tenant_id, [b.id for b in budgets])
    spend = await repository.window_spend(conn, tenant_id, budgets, today)
    return [
        BudgetSpend(
            net_of_releases(budget, released.get(budget.id)),
            daily_spend_cents=spend[budget.id][0],
            monthly_spend_cents=spend[budget.id][2],
            weekly_spend_cents=spend[budget.id][1],
        )
        for budget in budgets
    ]


def net_of_releases(budget: Budget, released: Decimal | None) -> Budget:
    if not released:
        return budget
    return replace(budget, held_cents=max(EXACT.subtract(budget.held_cents, released), ZERO))


def to_read(tenant_id: str, state: BudgetSpend) -> BudgetRead:
    budget = state.budget
    return BudgetRead(
        id=budget.id,
        tenant_id=tenant_id,
        budget_type=budget.budget_type,
        entity_id=budget.entity_id,
        daily_limit_cents=budget.daily_limit_cents,
        monthly_limit_cents=budget.monthly_limit_cents,
        weekly_limit_cents=budget.weekly_limit_cents,
        warn_threshold_pct=budget.warn_threshold_pct,
        hard_limit_enabled=budget.hard_limit_enabled,
        on_unavailable=budget.unavailable_policy,  # type: ignore[arg-type]
        alert_thresholds=list(budget.alert_thresholds),
        is_active=budget.is_active,
        current_daily_spend_cents=state.daily_spend_cents,
        current_weekly_spend_cents=state.weekly_spend_cents,
        current_monthly_spend_cents=state.monthly_spend_cents,
        held_cents=budget.held_cents,
    )


def audit_state(budget: Budget) -> dict[str, Any]:
    state = asdict(budget)
    for key, value in state.items():
        if isinstance(value, Decimal):
            state[key] = plain(value)
    return state


async def upsert_budget(
    session: AsyncSession, tenant_id: str, body: BudgetCreate, actor: Principal
) -> tuple[BudgetRead, bool]:
    if body.budget_type not in BUDGET_TYPES:
        raise BadRequest("budget_type must be 'tenant', 'feature', 'user', or 'api_key'")
    if body.budget_type != "tenant" and not body.entity_id:
        raise BadRequest(f"entity_id required for {body.budget_type} budget")
    entity_key = "" if body.budget_type == "tenant" else str(body.entity_id)
    before = await repository.find(session, tenant_id, body.budget_type, entity_key)
    now = datetime.now(UTC)
    after = await repository.upsert(
        session,
        {
            "tenant_id": tenant_id,
            "id": new_id("cb_"),
            "budget_type": body.budget_type,
            "entity_key": entity_key,
            "daily_limit_cents": body.daily_limit_cents,
            "monthly_limit_cents": body.monthly_limit_cents,
            "weekly_limit_cents": body.weekly_limit_cents,
            "on_unavailable": body.on_unavailable,
            "alert_thresholds": sorted(set(body.alert_thresholds)),
            "warn_threshold_pct": body.warn_threshold_pct,
            "hard_limit_enabled": body.hard_limit_enabled,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        },
    )
    await enqueue_audit_entry(
        session,
        outbox,
        tenant_id=tenant_id,
        event_type="LimitCreated" if before is None else "LimitUpdated",
        entity_type="LIMIT",
        entity_id=after.id,
        actor=actor,
        action_reason=f"{body.budget_type} budget {'created' if before is None else 'updated'}",
        before_state=None if before is None else audit_state(before),
        after_state=audit_state(after),
    )
    return to_read(
        tenant_id, await spend_of(session, tenant_id, after, today_utc())
    ), before is None


async def list_budgets(session: AsyncSession, tenant_id: str) -> list[BudgetRead]:
    budgets = await repository.list_budgets(session, tenant_id)
    states = await spends_of(session, tenant_id, budgets, today_utc())
    return [to_read(tenant_id, state) for state in states]


async def check_guard(
    session: AsyncSession,
    tenant_id: str,
    *,
    feature_tag: str | None,
    user_id: str | None,
    estimated_cost_cents: Decimal,
    api_key_id: str | None = None,
) -> GuardRead:
    budgets = await repository.applicable(session, tenant_id, feature_tag, user_id, api_key_id)
    hard = [budget for budget in budgets if budget.hard_limit_enabled]
    states = await spends_of(session, tenant_id, hard, today_utc())
    decision = guard(states, estimated_cost_cents)
    if not decision.allowed:
        domain_metrics.BUDGET_REFUSALS.labels("cost-intel", "guard").inc()
    deny = any(budget.unavailable_policy == "deny" for budget in budgets)
    return GuardRead(
        allowed=decision.allowed,
        reason=decision.reason,
        budget_id=decision.budget_id,
        remaining_cents=decision.remaining_cents,
        on_unavailable="deny" if deny else "allow",
    )


async def tenant_budget(session: AsyncSession, tenant_id: str) -> Budget | None:
    budget = await repository.find(session, tenant_id, "tenant", "")
    return budget if budget is not None and budget.is_active else None
