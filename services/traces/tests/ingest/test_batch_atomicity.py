"""A batch is one transaction: when the database refuses its steps, none of its traces stay."""

from __future__ import annotations

import asyncpg
import httpx

from aos_common.testing import failing_inserts

from ..support import Tenant, make_trace


async def _stored_traces(database_url: str, tenant_id: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM traces.traces WHERE tenant_id = $1", tenant_id
        )
    finally:
        await connection.close()
    return int(count)


async def test_a_batch_whose_steps_fail_at_the_database_stores_no_trace(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    traces = [make_trace(steps=3) for _ in range(4)]
    async with failing_inserts(database_url, "traces.trace_steps", tenant.id):
        response = await client.post("/api/v1/traces/batch", json=traces, headers=tenant.admin)
    assert response.status_code >= 400
    assert await _stored_traces(database_url, tenant.id) == 0


async def test_a_single_trace_whose_steps_fail_at_the_database_is_not_stored(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    async with failing_inserts(database_url, "traces.trace_steps", tenant.id):
        response = await client.post(
            "/api/v1/traces", json=make_trace(steps=2), headers=tenant.admin
        )
    assert response.status_code >= 400
    assert await _stored_traces(database_url, tenant.id) == 0
