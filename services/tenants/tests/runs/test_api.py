"""Run routes through HTTP: start, complete, list, quota refusals with API.md's reasons."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aos_common.db import asyncpg_url
from aos_common.testing.tenants import NewTenant, Peers, TenantFactory, create_key


async def start(client: httpx.AsyncClient, tenant: NewTenant, **body: object) -> httpx.Response:
    payload = {"worker_id": "support-triage", "task": "Classify ticket 42", **body}
    return await client.post("/api/v1/runs", json=payload, headers=tenant.headers)


async def test_start_run(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await start(client, tenant)
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("run_") and len(body["id"]) == 20
    assert (body["worker_id"], body["task"], body["status"]) == (
        "support-triage",
        "Classify ticket 42",
        "running",
    )
    assert body["created_at"]
    tenant_now = (await client.get("/api/v1/tenant", headers=tenant.headers)).json()
    assert (tenant_now["runs_today"], tenant_now["runs_this_month"]) == (1, 1)


async def test_client_chosen_run_id_and_duplicate_is_409(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    assert (await start(client, tenant, run_id="run_custom_1")).status_code == 201
    again = await start(client, tenant, run_id="run_custom_1")
    assert again.status_code == 409
    assert again.json()["detail"] == "Run run_custom_1 already exists"
    quota = (await client.get("/api/v1/tenant/quota/runs", headers=tenant.headers)).json()
    assert quota["current"] == 1  # the refused duplicate did not count


async def test_complete_run_meters_tokens_once(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    run = (await start(client, tenant)).json()
    body = {"status": "succeeded", "total_tokens": 1234, "total_latency_ms": 850, "cost_cents": 2.5}
    done = await client.patch(f"/api/v1/runs/{run['id']}", json=body, headers=tenant.headers)
    assert done.status_code == 200
    assert done.json()["status"] == "succeeded" and done.json()["success"] is True
    assert done.json()["completed_at"] is not None
    again = await client.patch(f"/api/v1/runs/{run['id']}", json=body, headers=tenant.headers)
    assert again.status_code == 409
    assert again.json()["detail"] == f"Run {run['id']} is already succeeded"
    tenant_now = (await client.get("/api/v1/tenant", headers=tenant.headers)).json()
    assert tenant_now["tokens_this_month"] == 1234
    usage = (await client.get("/api/v1/tenant/usage?period=24h", headers=tenant.headers)).json()
    assert usage["meters"]["runs"]["total"] == 1
    assert usage["meters"]["tokens"] == {"total": 1234, "unit": "tokens"}
    assert usage["meters"]["cost_cents"]["total"] == 2.5
    assert usage["total_records"] == 3
    assert "tenants.runs" in usage["provenance"]["sources"]


async def test_complete_unknown_run_is_404(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.patch(
        "/api/v1/runs/run_0000000000000000", json={"status": "failed"}, headers=tenant.headers
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Run not found"


async def test_complete_rejects_running_status(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    run = (await start(client, tenant)).json()
    response = await client.patch(
        f"/api/v1/runs/{run['id']}", json={"status": "running"}, headers=tenant.headers
    )
    assert response.status_code == 422


async def test_list_runs_with_filters_and_task_preview(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    long = (await start(client, tenant, task="x" * 500)).json()
    other = (await start(client, tenant, worker_id="code-reviewer")).json()
    await client.patch(
        f"/api/v1/runs/{other['id']}", json={"status": "failed"}, headers=tenant.headers
    )
    listed = (await client.get("/api/v1/runs", headers=tenant.headers)).json()
    assert [run["id"] for run in listed] == [other["id"], long["id"]]
    assert len(listed[1]["task"]) == 200 and listed[1]["success"] is None
    assert listed[0]["success"] is False
    failed = (await client.get("/api/v1/runs?status=failed", headers=tenant.headers)).json()
    assert [run["id"] for run in failed] == [other["id"]]
    by_worker = (
        await client.get("/api/v1/runs?worker_id=support-triage", headers=tenant.headers)
    ).json()
    assert [run["id"] for run in by_worker] == [long["id"]]
    page = (await client.get("/api/v1/runs?limit=1&offset=1", headers=tenant.headers)).json()
    assert [run["id"] for run in page] == [long["id"]]
    assert (await client.get("/api/v1/runs?limit=101", headers=tenant.headers)).status_code == 422


async def test_runs_are_tenant_scoped(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    mine, theirs = await make_tenant("a"), await make_tenant("b")
    run = (await start(client, theirs)).json()
    assert (await client.get("/api/v1/runs", headers=mine.headers)).json() == []
    response = await client.patch(
        f"/api/v1/runs/{run['id']}", json={"status": "failed"}, headers=mine.headers
    )
    assert response.status_code == 404


async def test_daily_limit_is_429_with_reason(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(max_runs_per_day=2)
    for _ in range(2):
        run = (await start(client, tenant)).json()
        await client.patch(
            f"/api/v1/runs/{run['id']}", json={"status": "succeeded"}, headers=tenant.headers
        )
    refused = await start(client, tenant)
    assert refused.status_code == 429
    assert refused.json()["detail"] == "Daily run limit (2) exceeded"
    assert int(refused.headers["retry-after"]) > 0
    quota = (await client.get("/api/v1/tenant/quota/runs", headers=tenant.headers)).json()
    assert quota == {
        "allowed": False,
        "reason": "Daily run limit (2) exceeded",
        "quota_name": "runs_per_day",
        "current": 2,
        "limit": 2,
    }


async def test_daily_counter_resets_at_utc_midnight(
    client: httpx.AsyncClient, make_tenant: TenantFactory, migrated_url: str
) -> None:
    tenant = await make_tenant(max_runs_per_day=1)
    run = (await start(client, tenant)).json()
    await client.patch(
        f"/api/v1/runs/{run['id']}", json={"status": "succeeded"}, headers=tenant.headers
    )
    assert (await start(client, tenant)).status_code == 429
    engine = create_async_engine(asyncpg_url(migrated_url))
    try:
        async with engine.begin() as connection:  # as if the last run was counted yesterday
            await connection.execute(
                text("UPDATE tenants.tenants SET runs_day = runs_day - 1 WHERE id = :id"),
                {"id": tenant.id},
            )
    finally:
        await engine.dispose()
    assert (await client.get("/api/v1/tenant", headers=tenant.headers)).json()["runs_today"] == 0
    assert (await start(client, tenant)).status_code == 201


async def test_concurrency_limit_is_429_with_reason(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(max_concurrent_runs=1)
    first = (await start(client, tenant)).json()
    refused = await start(client, tenant)
    assert refused.status_code == 429
    assert refused.json()["detail"] == "Concurrent run limit (1) reached"
    await client.patch(
        f"/api/v1/runs/{first['id']}", json={"status": "aborted"}, headers=tenant.headers
    )
    assert (await start(client, tenant)).status_code == 201


async def test_suspended_tenant_cannot_start(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(status="suspended")
    refused = await start(client, tenant)
    assert refused.status_code == 429
    assert refused.json()["detail"] == "Tenant is suspended"


async def test_exhausted_hard_budget_is_402(
    client: httpx.AsyncClient, tenant: NewTenant, peers: Peers
) -> None:
    peers.exhausted_budgets[tenant.id] = "cb_00000000000000aa"
    try:
        refused = await start(client, tenant)
        quota = (await client.get("/api/v1/tenant/quota/runs", headers=tenant.headers)).json()
    finally:
        del peers.exhausted_budgets[tenant.id]
    assert refused.status_code == 402
    assert refused.json()["detail"] == "Budget exhausted: cb_00000000000000aa"
    assert quota["allowed"] is False
    assert quota["reason"] == "Budget exhausted: cb_00000000000000aa"
    assert (await client.get("/api/v1/tenant", headers=tenant.headers)).json()["runs_today"] == 0


async def test_cost_intel_down_follows_a_remembered_allow_policy(
    client: httpx.AsyncClient, tenant: NewTenant, peers: Peers
) -> None:
    assert (await start(client, tenant)).status_code == 201  # learns on_unavailable: allow
    peers.cost_intel_up = False
    try:
        response = await start(client, tenant)
    finally:
        peers.cost_intel_up = True
    assert response.status_code == 201


async def test_cost_intel_down_follows_a_remembered_deny_policy_with_503(
    client: httpx.AsyncClient, tenant: NewTenant, peers: Peers
) -> None:
    peers.deny_when_unavailable.add(tenant.id)
    assert (await start(client, tenant)).status_code == 201  # learns on_unavailable: deny
    peers.cost_intel_up = False
    try:
        response = await start(client, tenant)
    finally:
        peers.cost_intel_up = True
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Budget check unavailable: cost-intel cannot")
    assert response.headers["Retry-After"] == "5"


async def test_cost_intel_down_for_a_tenant_never_checked_denies_by_default(
    client: httpx.AsyncClient, tenant: NewTenant, peers: Peers
) -> None:
    peers.cost_intel_up = False
    try:
        response = await start(client, tenant)
    finally:
        peers.cost_intel_up = True
    assert response.status_code == 503
    assert "on_unavailable: deny" in response.json()["detail"]


async def test_key_allowed_workers_and_own_concurrency(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    key = await create_key(
        client, tenant, allowed_workers=["support-triage"], max_concurrent_runs=1
    )
    limited = NewTenant(tenant.id, key["key"], {})
    wrong = await start(client, limited, worker_id="code-reviewer")
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "API key is not allowed to run worker code-reviewer"
    assert (await start(client, limited)).status_code == 201
    second = await start(client, limited)
    assert second.status_code == 429
    assert second.json()["detail"] == "Concurrent run limit (1) reached"
    assert (await start(client, tenant)).status_code == 201  # the tenant still has room


async def test_disabled_worker_cannot_run(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    await client.put(
        "/api/v1/workers/support-triage/config", json={"enabled": False}, headers=tenant.headers
    )
    refused = await start(client, tenant)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Worker support-triage is not enabled for this tenant"


async def test_worker_daily_limit_from_config(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    await client.put(
        "/api/v1/workers/code-reviewer/config", json={"max_runs_per_day": 1}, headers=tenant.headers
    )
    assert (await start(client, tenant, worker_id="code-reviewer")).status_code == 201
    refused = await start(client, tenant, worker_id="code-reviewer")
    assert refused.status_code == 429
    assert refused.json()["detail"] == "Daily run limit (1) exceeded for worker code-reviewer"


async def test_run_permissions(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    reader = await create_key(client, tenant, permissions=["read:*"])
    headers = {"X-AOS-Key": reader["key"]}
    response = await client.post(
        "/api/v1/runs", json={"worker_id": "w", "task": "t"}, headers=headers
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission run:start"
    assert (await client.get("/api/v1/runs", headers=headers)).status_code == 200


async def test_idempotent_start_counts_once(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "start-once"}
    body = {"worker_id": "support-triage", "task": "once"}
    first = await client.post("/api/v1/runs", json=body, headers=headers)
    again = await client.post("/api/v1/runs", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert (await client.get("/api/v1/tenant", headers=tenant.headers)).json()["runs_today"] == 1
