"""Settles and releases take holds off without locking budget rows (migration 0010): a release
row, folded into the budget by the next reservation on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from aos_common.migrations import downgrade, upgrade
from aos_common.testing import run_in_thread
from aos_cost_intel.reservations.repository import fold_releases

URL = "/api/v1/cost/reservations"


@pytest.fixture
async def database(migrated_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(migrated_database)
    try:
        yield connection
    finally:
        await connection.close()


async def hard_budget(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    body = {"budget_type": "tenant", "hard_limit_enabled": True, "daily_limit_cents": "100"}
    response = await client.post("/api/v1/cost/budgets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def reserve(client: httpx.AsyncClient, headers: dict[str, str], cents: str) -> str:
    response = await client.post(URL, json={"estimated_cost_cents": cents}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def held(client: httpx.AsyncClient, headers: dict[str, str], budget_id: str) -> str:
    listing = (await client.get("/api/v1/cost/budgets", headers=headers)).json()
    return next(str(b["held_cents"]) for b in listing if b["id"] == budget_id)


async def test_a_settle_completes_while_a_reservation_holds_the_budget_row_locked(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    tenant: str,
    database: asyncpg.Connection,
) -> None:
    budget_id = await hard_budget(client, admin)
    reservation_id = await reserve(client, admin, "30")
    async with database.transaction():  # as a reservation batch does, until its commit
        await database.execute(
            "SELECT 1 FROM cost_intel.budgets WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            tenant,
            budget_id,
        )
        settle = client.post(
            f"{URL}/{reservation_id}/settle", json={"actual_cost_cents": "20"}, headers=admin
        )
        settled = await asyncio.wait_for(settle, timeout=20)  # before 0010: waited on the lock
    assert settled.status_code == 200, settled.text
    assert settled.json()["budgets"] == [{"budget_id": budget_id, "remaining_cents": "80"}]


async def test_the_next_reservation_folds_the_releases_into_the_budget(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    tenant: str,
    database: asyncpg.Connection,
) -> None:
    budget_id = await hard_budget(client, admin)
    first = await reserve(client, admin, "30")
    second = await reserve(client, admin, "50")
    assert (await client.post(f"{URL}/{first}/release", headers=admin)).status_code == 200
    assert (await client.post(f"{URL}/{second}/release", headers=admin)).status_code == 200
    pending = await database.fetchval(
        "SELECT sum(released_cents) FROM cost_intel.budget_hold_releases "
        "WHERE tenant_id = $1 AND budget_id = $2",
        tenant,
        budget_id,
    )
    assert str(pending) == "80"
    assert await held(client, admin, budget_id) == "0"  # read net of the pending releases
    await reserve(client, admin, "100")  # the whole limit: only possible once both are off
    assert await pending_and_held(database, tenant, budget_id) == (0, "100")


async def test_a_downgrade_folds_pending_releases_back_into_the_budgets(
    scratch_database: str,
) -> None:
    run_in_thread(lambda: upgrade("aos_cost_intel", scratch_database))
    connection = await asyncpg.connect(scratch_database)
    try:
        await connection.execute(
            "INSERT INTO cost_intel.budgets (tenant_id, id, budget_type, entity_key, "
            "held_cents, hard_limit_enabled) VALUES ('tnt_a', 'cb_1', 'tenant', '', 50, true)"
        )
        await connection.execute(
            "INSERT INTO cost_intel.budget_hold_releases (tenant_id, budget_id, released_cents) "
            "VALUES ('tnt_a', 'cb_1', 20), ('tnt_a', 'cb_1', 5)"
        )
        run_in_thread(lambda: downgrade("aos_cost_intel", scratch_database, "0009"))
        held_after = await connection.fetchval(
            "SELECT held_cents FROM cost_intel.budgets WHERE id = 'cb_1'"
        )
        assert str(held_after) == "25"
    finally:
        await connection.close()


async def test_releases_no_reservation_came_for_are_folded_by_the_sweep_skipping_locked_budgets(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    tenant: str,
    database: asyncpg.Connection,
    migrated_database: str,
) -> None:
    budget_id = await hard_budget(client, admin)
    reservation_id = await reserve(client, admin, "30")
    assert (await client.post(f"{URL}/{reservation_id}/release", headers=admin)).status_code == 200
    other = await asyncpg.connect(migrated_database)
    try:
        async with other.transaction():  # a reservation batch holding the budget
            await other.execute(
                "SELECT 1 FROM cost_intel.budgets WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                tenant,
                budget_id,
            )
            async with database.transaction():
                await asyncio.wait_for(fold_releases(database, 10_000, later()), timeout=20)
            assert await pending_and_held(database, tenant, budget_id) == (1, "30")
    finally:
        await other.close()
    async with database.transaction():  # as expire_due does at the end of each sweep
        assert await fold_releases(database, 10_000, datetime.now(UTC) - timedelta(hours=1)) == 0
        await fold_releases(database, 10_000, later())
    assert await pending_and_held(database, tenant, budget_id) == (0, "0")


def later() -> datetime:
    """A cut-off every release made so far is before (the sweep's is 10 s ago)."""
    return datetime.now(UTC) + timedelta(seconds=1)


async def pending_and_held(
    database: asyncpg.Connection, tenant: str, budget_id: str
) -> tuple[int, str]:
    row = await database.fetchrow(
        "SELECT held_cents, (SELECT count(*) FROM cost_intel.budget_hold_releases r "
        "WHERE r.tenant_id = b.tenant_id AND r.budget_id = b.id) AS pending "
        "FROM cost_intel.budgets b WHERE tenant_id = $1 AND id = $2",
        tenant,
        budget_id,
    )
    return int(row["pending"]), str(row["held_cents"])
