"""A record batch is one transaction: when the database refuses its rollups, no record stays."""

from __future__ import annotations

import asyncpg
import httpx

from aos_common.testing import failing_inserts


async def test_a_batch_whose_rollups_fail_at_the_database_stores_no_record(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str, migrated_database: str
) -> None:
    records = [
        {"model": "gpt-4o-mini", "input_tokens": i, "request_id": f"r{i}"} for i in range(50)
    ]
    async with failing_inserts(migrated_database, "cost_intel.cost_rollups_dim", tenant):
        response = await client.post(
            "/api/v1/cost/records/batch", json={"records": records}, headers=admin
        )
    assert response.status_code >= 400
    connection = await asyncpg.connect(migrated_database)
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM cost_intel.cost_records WHERE tenant_id = $1", tenant
        )
        claimed = await connection.fetchval(
            "SELECT count(*) FROM cost_intel.cost_request_ids WHERE tenant_id = $1", tenant
        )
    finally:
        await connection.close()
    assert (stored, claimed) == (0, 0)
