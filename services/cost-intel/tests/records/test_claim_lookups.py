"""Finding the records stored earlier under some request ids reads their claims, not the tenant's
others, whatever plan Postgres caches (a prepared statement's plan goes generic after five calls;
as `request_id = ANY($2)` it could scan every claim of the tenant)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from aos_common.migrations import upgrade
from aos_common.testing import run_in_thread
from aos_common.testing.support import create_database, drop_database, rows_read
from aos_cost_intel.records.repository import claimed_records

TENANT = "tnt_big"
OTHERS = 20_000


@pytest.fixture(scope="module")
def claims_database(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url, prefix="aos_claims")
    run_in_thread(lambda: upgrade("aos_cost_intel", url))
    yield url
    drop_database(url)


@pytest.fixture
async def generic_plans(claims_database: str) -> AsyncIterator[asyncpg.Connection]:
    """20,000 records with their claims, not yet analyzed (a table that grew since autovacuum
    last looked), on a connection whose prepared statements use generic plans at once."""
    connection = await asyncpg.connect(claims_database)
    await connection.execute(
        "INSERT INTO cost_intel.cost_records (tenant_id, occurred_at, id, feature_tag, request_id, "
        "model, cost_cents, cost_source) SELECT $1, now(), 'cr_' || g, 'f', 'req-' || g, 'm', 1, "
        "'provided' FROM generate_series(1, $2) g",
        TENANT,
        OTHERS,
    )
    await connection.execute(
        "INSERT INTO cost_intel.cost_request_ids (tenant_id, request_id, record_id, occurred_at) "
        "SELECT tenant_id, request_id, id, occurred_at FROM cost_intel.cost_records"
    )
    await connection.execute("SET plan_cache_mode = force_generic_plan")
    try:
        yield connection
    finally:
        await connection.close()


async def test_finding_claimed_records_reads_only_their_claims(
    generic_plans: asyncpg.Connection,
) -> None:
    wanted = [f"req-{i}" for i in range(1, 11)]
    for _ in range(6):
        async with generic_plans.transaction():
            before = await rows_read(generic_plans, "cost_intel", "cost_request_ids")
            found = await claimed_records(generic_plans, TENANT, wanted)
            read = await rows_read(generic_plans, "cost_intel", "cost_request_ids") - before
        assert sorted(found) == sorted(wanted)
        assert read <= 2 * len(wanted)
