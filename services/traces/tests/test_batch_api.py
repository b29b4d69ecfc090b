"""POST /api/v1/traces/batch: JSON array or NDJSON, per-item results, limits, one transaction."""

from __future__ import annotations

import asyncpg
import httpx
import orjson

from .support import Tenant, make_trace


async def test_json_array_stores_every_trace_with_steps(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    traces = [make_trace(steps=3) for _ in range(5)]
    response = await client.post("/api/v1/traces/batch", json=traces, headers=tenant.developer)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["stored"], body["duplicates"], body["rejected"], body["steps_stored"]) == (
        5,
        0,
        0,
        15,
    )
    assert [r["index"] for r in body["results"]] == list(range(5))
    assert all(r["status"] == "stored" and len(r["root_hash"]) == 64 for r in body["results"])
    connection = await asyncpg.connect(database_url)
    try:
        steps = await connection.fetchval(
            "SELECT count(*) FROM traces.trace_steps WHERE tenant_id = $1", tenant.id
        )
    finally:
        await connection.close()
    assert steps == 15


async def test_ndjson_body_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    lines = b"\n".join(orjson.dumps({"trace": make_trace()}) for _ in range(3)) + b"\n"
    response = await client.post(
        "/api/v1/traces/batch",
        content=lines,
        headers={**tenant.admin, "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 201
    assert response.json()["stored"] == 3


async def test_per_item_errors_and_duplicates_do_not_block_the_rest(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    existing = make_trace()
    first = await client.post("/api/v1/traces/batch", json=[existing], headers=tenant.admin)
    assert first.json()["stored"] == 1
    fresh = make_trace()
    items = [
        existing,
        {"steps": []},
        fresh,
        fresh,
        make_trace(steps=1) | {"steps": [{"skill_id": "x", "status": "bogus"}]},
    ]
    body = (await client.post("/api/v1/traces/batch", json=items, headers=tenant.admin)).json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["duplicate", "rejected", "stored", "duplicate", "rejected"]
    assert body["results"][1]["error"] == "trace must have run_id or trace_id"
    assert "status must be one of" in body["results"][4]["error"]
    assert body["results"][0]["error"].endswith("already exists")


async def test_more_than_1000_traces_is_413(client: httpx.AsyncClient, tenant: Tenant) -> None:
    items = [{"run_id": f"r{i}"} for i in range(1001)]
    response = await client.post("/api/v1/traces/batch", json=items, headers=tenant.admin)
    assert response.status_code == 413
    assert response.json()["detail"] == "Batch exceeds 1,000 traces"


async def test_more_than_50000_steps_is_413(client: httpx.AsyncClient, tenant: Tenant) -> None:
    step = {"skill_id": "s"}
    items = [{"run_id": "a", "steps": [step] * 25_001}, {"run_id": "b", "steps": [step] * 25_000}]
    response = await client.post("/api/v1/traces/batch", json=items, headers=tenant.admin)
    assert response.status_code == 413
    assert response.json()["detail"] == "Batch exceeds 50,000 steps"


async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/traces/batch",
        content=b"[1, 2",
        headers={**tenant.admin, "content-type": "application/json"},
    )
    assert response.status_code == 400
    empty = await client.post("/api/v1/traces/batch", content=b"", headers=tenant.admin)
    assert empty.status_code == 400 and empty.json()["detail"] == "Batch body is empty"


async def test_viewer_cannot_write(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/api/v1/traces/batch", json=[make_trace()], headers=tenant.viewer)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission traces:write"


async def test_idempotency_key_replays_the_batch_reply(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    items = [make_trace()]
    headers = {**tenant.admin, "Idempotency-Key": "batch-key-1"}
    first = await client.post("/api/v1/traces/batch", json=items, headers=headers)
    second = await client.post("/api/v1/traces/batch", json=items, headers=headers)
    assert second.status_code == 201 and second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    other = await client.post("/api/v1/traces/batch", json=[make_trace()], headers=headers)
    assert other.status_code == 409
    assert other.json()["detail"] == "Idempotency key reused with a different request"


async def test_steps_in_an_old_month_land_in_the_default_partition(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    trace = make_trace(steps=1)
    trace["steps"][0]["timestamp"] = "1999-01-01T00:00:00Z"
    assert (await client.post("/api/v1/traces/batch", json=[trace], headers=tenant.admin)).json()[
        "stored"
    ] == 1
    connection = await asyncpg.connect(database_url)
    try:
        partition = await connection.fetchval(
            "SELECT tableoid::regclass::text FROM traces.trace_steps WHERE tenant_id = $1",
            tenant.id,
        )
    finally:
        await connection.close()
    assert partition == "traces.trace_steps_default"


async def test_steps_of_a_recent_month_get_a_monthly_partition(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    month_ago = datetime.now(UTC).replace(day=1) - timedelta(days=200)
    trace = make_trace(steps=1)
    trace["steps"][0]["timestamp"] = month_ago.isoformat()
    await client.post("/api/v1/traces/batch", json=[trace], headers=tenant.admin)
    connection = await asyncpg.connect(database_url)
    try:
        partition = await connection.fetchval(
            "SELECT tableoid::regclass::text FROM traces.trace_steps WHERE tenant_id = $1",
            tenant.id,
        )
    finally:
        await connection.close()
    assert partition == f"traces.trace_steps_p{month_ago:%Y%m}"
