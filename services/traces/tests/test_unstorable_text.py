"""Text PostgreSQL cannot store (NUL) is cleaned or refused with a 4xx, never a 500."""

from __future__ import annotations

import asyncpg
import httpx

from aos_common.errors import DATABASE_REFUSED

from .support import Tenant, make_trace, store


async def test_nul_in_json_values_is_replaced_before_storage(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    trace = make_trace(steps=1, metadata={"note\u0000key": "a\u0000b"})
    trace["steps"][0]["params"] = {"q": "x\u0000y"}
    stored = await store(client, tenant, trace)
    connection = await asyncpg.connect(database_url)
    try:
        params = await connection.fetchval(
            "SELECT params::text FROM traces.trace_steps WHERE tenant_id = $1", tenant.id
        )
    finally:
        await connection.close()
    assert "\ufffd" in params
    document = await client.get(f"/api/v1/traces/{stored['trace_id']}", headers=tenant.admin)
    assert document.json()["metadata"] == {"note\ufffdkey": "a\ufffdb"}


async def test_nul_in_identifiers_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    trace = make_trace(steps=1, agent_id="a\u0000")
    response = await client.post("/api/v1/traces", json=trace, headers=tenant.admin)
    assert response.status_code == 400
    assert response.json()["detail"] == "agent_id must not contain NUL characters"
    step = make_trace(steps=1)
    step["steps"][0]["skill_id"] = "s\u0000"
    batch = await client.post("/api/v1/traces/batch", json=[step], headers=tenant.admin)
    assert (
        batch.json()["results"][0]["error"] == "steps[0].skill_id must not contain NUL characters"
    )


async def test_nul_in_mismatch_details_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, make_trace())
    response = await client.post(
        f"/api/v1/traces/{stored['trace_id']}/mismatch",
        json={"step_index": 0, "reason": "r\u0000", "details": {"k": "\u0000"}},
        headers=tenant.admin,
    )
    assert response.status_code == 400
    assert response.json()["detail"] == DATABASE_REFUSED
