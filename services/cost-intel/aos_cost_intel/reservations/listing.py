"""GET /api/v1/cost/reservations: a page of reservations, each with the budgets it sits on.

A reservation row keeps the ids of the budgets it held (`budget_ids`) and the amount it held on
each (`held_cents`, the same on every one); the budgets' type and entity come from one read of
the page's budgets, so a page costs two queries whatever its size."""

from __future__ import annotations

import asyncpg

from aos_cost_intel.budgets import repository as budgets_repository
from aos_cost_intel.reservations import repository
from aos_cost_intel.reservations.schemas import HeldBudget, ReservationListed


async def list_page(
    conn: asyncpg.Connection, tenant_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[ReservationListed], int]:
    """Newest first, with the total of the tenant's reservations of that status."""
    rows, total = await repository.list_for_tenant(conn, tenant_id, status, limit, offset)
    budget_ids = sorted({budget_id for row in rows for budget_id in row["budget_ids"]})
    budgets = {
        budget["id"]: budget
        for budget in await budgets_repository.find_by_ids(conn, tenant_id, budget_ids)
    }
    return [listed(row, budgets) for row in rows], total


def listed(row: asyncpg.Record, budgets: dict[str, asyncpg.Record]) -> ReservationListed:
    """One reservation row with its budgets in the order it held them."""
    held = [
        HeldBudget(
            budget_id=budget_id,
            budget_type=budgets[budget_id]["budget_type"] if budget_id in budgets else None,
            entity_id=(budgets[budget_id]["entity_key"] or None) if budget_id in budgets else None,
            held_cents=row["held_cents"],
        )
        for budget_id in row["budget_ids"]
    ]
    return ReservationListed.model_validate({**dict(row), "budgets": held})
