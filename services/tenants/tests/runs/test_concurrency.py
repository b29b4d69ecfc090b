"""The run quota is atomic: parallel starts admit exactly min(N, L); counters never drift."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aos_common.db import asyncpg_url
from aos_common.testing.tenants import TenantFactory

BODY = {"worker_id": "support-triage", "task": "parallel"}


async def test_ten_parallel_starts_against_three_concurrent_admit_exactly_three(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(max_concurrent_runs=3)
    responses = await asyncio.gather(
        *(client.post("/api/v1/runs", json=BODY, headers=tenant.headers) for _ in range(10))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 3 + [429] * 7
    refusals = {r.json()["detail"] for r in responses if r.status_code == 429}
    assert refusals == {"Concurrent run limit (3) reached"}
    running = (await client.get("/api/v1/runs?status=running", headers=tenant.headers)).json()
    assert len(running) == 3


async def test_ten_parallel_starts_against_three_per_day_admit_exactly_three(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(max_runs_per_day=3, max_concurrent_runs=50)
    responses = await asyncio.gather(
        *(client.post("/api/v1/runs", json=BODY, headers=tenant.headers) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 7
    assert {r.json()["detail"] for r in responses if r.status_code == 429} == {
        "Daily run limit (3) exceeded"
    }
    assert (await client.get("/api/v1/tenant", headers=tenant.headers)).json()["runs_today"] == 3


async def test_parallel_completions_release_a_slot_exactly_once(
    client: httpx.AsyncClient, make_tenant: TenantFactory, migrated_url: str
) -> None:
    tenant = await make_tenant(max_concurrent_runs=2)
    run = (await client.post("/api/v1/runs", json=BODY, headers=tenant.headers)).json()
    completions = await asyncio.gather(
        *(
            client.patch(
                f"/api/v1/runs/{run['id']}",
                json={"status": "succeeded", "total_tokens": 10},
                headers=tenant.headers,
            )
            for _ in range(8)
        )
    )
    assert sorted(r.status_code for r in completions) == [200] + [409] * 7
    counters = await _counters(migrated_url, tenant.id)
    assert counters == {"running_runs": 0, "tokens_this_month": 10, "running_rows": 0}


async def test_no_counter_drift_after_1000_start_complete_cycles(
    client: httpx.AsyncClient, make_tenant: TenantFactory, migrated_url: str
) -> None:
    tenant = await make_tenant(max_runs_per_day=10_000, max_concurrent_runs=8)

    async def worker(cycles: int) -> int:
        admitted = 0
        for _ in range(cycles):
            started = await client.post("/api/v1/runs", json=BODY, headers=tenant.headers)
            if started.status_code != 201:
                continue
            admitted += 1
            done = await client.patch(
                f"/api/v1/runs/{started.json()['id']}",
                json={"status": "succeeded", "total_tokens": 1},
                headers=tenant.headers,
            )
            assert done.status_code == 200
        return admitted

    admitted = sum(await asyncio.gather(*(worker(125) for _ in range(8))))
    assert admitted == 1000
    body = (await client.get("/api/v1/tenant", headers=tenant.headers)).json()
    assert body["runs_today"] == 1000 and body["tokens_this_month"] == 1000
    assert await _counters(migrated_url, tenant.id) == {
        "running_runs": 0,
        "tokens_this_month": 1000,
        "running_rows": 0,
    }


async def _counters(database_url: str, tenant_id: str) -> dict[str, int]:
    engine = create_async_engine(asyncpg_url(database_url))
    try:
        async with engine.connect() as connection:
            row = (
                (
                    await connection.execute(
                        text(
                            "SELECT running_runs, tokens_this_month, "
                            "(SELECT count(*) FROM tenants.runs r WHERE r.tenant_id = t.id "
                            " AND r.status = 'running') AS running_rows "
                            "FROM tenants.tenants t WHERE id = :id"
                        ),
                        {"id": tenant_id},
                    )
                )
                .mappings()
                .one()
            )
    finally:
        await engine.dispose()
    return dict(row)
