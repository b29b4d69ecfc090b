"""Settling reads the reservations it settles, not the tenant's others, whatever plan Postgres
caches: plpgsql and prepared statements switch to generic plans after five calls, and a generic
plan for `tenant_id = $1 AND id = ANY($2)` scanned every reservation of the tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from aos_common.migrations import upgrade
from aos_common.testing import run_in_thread
from aos_common.testing.support import create_database, drop_database, rows_read
from aos_cost_intel.reservations.batcher import HoldRequest, reserve_holds
from aos_cost_intel.reservations.repository import close_holds, lock_many

TENANT = "tnt_big"
OTHERS = 20_000


@pytest.fixture(scope="module")
def module_scratch_database(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url, prefix="aos_lookups")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
async def big_tenant(module_scratch_database: str) -> str:
    """A tenant with a budget and 20,000 held reservations beside the ones a test makes, not yet
    analyzed (a table that grew since autovacuum last looked: the old lookups then read every
    reservation of the tenant, 20,010 rows to lock 10 and 100,100 to close them)."""
    run_in_thread(lambda: upgrade("aos_cost_intel", module_scratch_database))
    connection = await asyncpg.connect(module_scratch_database)
    try:
        await connection.execute(
            "INSERT INTO cost_intel.budgets (tenant_id, id, budget_type, entity_key, "
            "daily_limit_cents, hard_limit_enabled) VALUES ($1, 'cb_big', 'tenant', '', 1e9, true)",
            TENANT,
        )
        await connection.execute(
            "INSERT INTO cost_intel.reservations (tenant_id, id, status, held_cents, budget_ids, "
            "expires_at, created_at) SELECT $1, 'res_old' || g, 'held', 1, '{cb_big}', now() + interval '1 hour', "
            "now() FROM generate_series(1, $2) g",
            TENANT,
            OTHERS,
        )
    finally:
        await connection.close()
    return module_scratch_database


@pytest.fixture
async def generic_plans(big_tenant: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(big_tenant)
    await connection.execute("SET plan_cache_mode = force_generic_plan")
    try:
        yield connection
    finally:
        await connection.close()


async def hold(connection: asyncpg.Connection, count: int) -> list[str]:
    now = datetime.now(UTC)
    requests = [
        HoldRequest(TENANT, f"res_new{now.timestamp()}_{i}", Decimal(1), [("tenant", "")], 300,
                    None, None, None, None, None)
        for i in range(count)
    ]  # fmt: skip
    await reserve_holds(connection, requests, now.date(), now)
    return [r.reservation_id for r in requests]


async def test_locking_a_batch_reads_only_its_reservations(
    generic_plans: asyncpg.Connection,
) -> None:
    ids = await hold(generic_plans, 10)
    for _ in range(6):  # past the calls after which a prepared statement's plan goes generic
        async with generic_plans.transaction():
            before = await rows_read(generic_plans, "cost_intel", "reservations")
            locked = await lock_many(generic_plans, [(TENANT, i) for i in ids])
            read = await rows_read(generic_plans, "cost_intel", "reservations") - before
        assert sorted(locked) == sorted((TENANT, i) for i in ids)
        assert read <= 2 * len(ids)


async def test_closing_a_batch_reads_only_its_reservations(
    generic_plans: asyncpg.Connection,
) -> None:
    for _ in range(6):  # past the calls after which plpgsql's plans go generic
        ids = await hold(generic_plans, 10)
        async with generic_plans.transaction():
            await lock_many(generic_plans, [(TENANT, i) for i in ids])
            before = await rows_read(generic_plans, "cost_intel", "reservations")
            now = datetime.now(UTC)
            closed = await close_holds(
                generic_plans, TENANT, [(i, "settled", Decimal(1)) for i in ids], now
            )
            read = await rows_read(generic_plans, "cost_intel", "reservations") - before
        assert all(len(closed[i]) == 1 for i in ids)
        assert read <= 4 * len(ids)
