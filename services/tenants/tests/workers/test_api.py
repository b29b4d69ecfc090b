"""Worker routes through HTTP: catalogue, availability, details, merged configs."""

from __future__ import annotations

import httpx

from aos_common.testing.tenants import OPERATOR_HEADERS, NewTenant, create_key


async def test_catalogue_lists_public_workers(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get("/api/v1/workers", headers=tenant.headers)
    assert response.status_code == 200
    workers = {worker["id"]: worker for worker in response.json()}
    assert "support-triage" in workers and "contract-redliner" not in workers
    assert set(workers["support-triage"]) == {
        "id",
        "name",
        "description",
        "version",
        "status",
        "moats",
        "tokens_per_run_estimate",
        "cost_per_run_cents",
    }


async def test_catalogue_filters_by_status(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get("/api/v1/workers?status=deprecated", headers=tenant.headers)
    assert [worker["id"] for worker in response.json()] == ["legacy-summarizer"]
    bad = await client.get("/api/v1/workers?status=retired", headers=tenant.headers)
    assert bad.status_code == 422


async def test_operator_sees_private_workers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/workers", headers=OPERATOR_HEADERS)
    assert "contract-redliner" in [worker["id"] for worker in response.json()]


async def test_worker_detail(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get("/api/v1/workers/invoice-extractor", headers=tenant.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["is_public"] is True
    assert body["default_config"]["currency"] == "USD"
    assert body["input_schema"]["required"] == ["document"]
    assert body["created_at"] and body["updated_at"]


async def test_unknown_or_private_worker_is_404(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    for worker_id in ("no-such-worker", "contract-redliner"):
        response = await client.get(f"/api/v1/workers/{worker_id}", headers=tenant.headers)
        assert response.status_code == 404
        assert response.json()["detail"] == "Worker not found"


async def test_available_is_an_envelope_with_enabled_flags(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    await client.put(
        "/api/v1/workers/code-reviewer/config", json={"enabled": False}, headers=tenant.headers
    )
    enabled = await client.get("/api/v1/workers/available", headers=tenant.headers)
    body = enabled.json()
    assert body["success"] is True and "request_id" in body["meta"]
    ids = {worker["id"] for worker in body["data"]}
    assert "code-reviewer" not in ids and all(worker["enabled"] for worker in body["data"])
    everything = await client.get(
        "/api/v1/workers/available?include_disabled=true", headers=tenant.headers
    )
    flags = {worker["id"]: worker["enabled"] for worker in everything.json()["data"]}
    assert flags["code-reviewer"] is False and flags["support-triage"] is True


async def test_config_defaults_then_merged_overrides(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    default = await client.get("/api/v1/workers/support-triage/config", headers=tenant.headers)
    assert default.json() == {
        "worker_id": "support-triage",
        "enabled": True,
        "config": {"model": "gpt-4o-mini", "temperature": 0.2, "max_reply_words": 180},
        "brand": None,
        "max_runs_per_day": None,
        "max_tokens_per_run": None,
    }
    put = await client.put(
        "/api/v1/workers/support-triage/config",
        json={
            "config": {"temperature": 0.7},
            "brand": {"name": "Acme"},
            "max_runs_per_day": 20,
            "max_tokens_per_run": 5000,
        },
        headers=tenant.headers,
    )
    assert put.status_code == 200
    merged = (
        await client.get("/api/v1/workers/support-triage/config", headers=tenant.headers)
    ).json()
    assert merged["config"] == {"model": "gpt-4o-mini", "temperature": 0.7, "max_reply_words": 180}
    assert merged["brand"] == {"name": "Acme"}
    assert (merged["max_runs_per_day"], merged["max_tokens_per_run"]) == (20, 5000)


async def test_config_bounds(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    for body in ({"max_runs_per_day": 0}, {"max_tokens_per_run": 999}):
        response = await client.put(
            "/api/v1/workers/support-triage/config", json=body, headers=tenant.headers
        )
        assert response.status_code == 422


async def test_config_needs_workers_configure(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    reader = await create_key(client, tenant, permissions=["read:*"])
    response = await client.put(
        "/api/v1/workers/support-triage/config",
        json={"enabled": False},
        headers={"X-AOS-Key": reader["key"]},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission workers:configure"
    configurer = await create_key(client, tenant, permissions=["workers:configure", "read:*"])
    allowed = await client.put(
        "/api/v1/workers/support-triage/config",
        json={"enabled": False},
        headers={"X-AOS-Key": configurer["key"]},
    )
    assert allowed.status_code == 200


async def test_operator_enables_private_worker_for_a_tenant(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    response = await client.put(
        f"/api/v1/workers/contract-redliner/config?tenant_id={tenant.id}",
        json={"enabled": True},
        headers=OPERATOR_HEADERS,
    )
    assert response.status_code == 200
    visible = await client.get("/api/v1/workers/contract-redliner", headers=tenant.headers)
    assert visible.status_code == 200
    run = await client.post(
        "/api/v1/runs", json={"worker_id": "contract-redliner", "task": "t"}, headers=tenant.headers
    )
    assert run.status_code == 201


async def test_private_worker_cannot_run_unconfigured(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    run = await client.post(
        "/api/v1/runs", json={"worker_id": "contract-redliner", "task": "t"}, headers=tenant.headers
    )
    assert run.status_code == 403


async def test_workers_need_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/workers")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


async def test_operator_config_for_unknown_tenant_is_404(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/api/v1/workers/support-triage/config?tenant_id=tnt_ffffffffffffffff",
        json={"enabled": True},
        headers=OPERATOR_HEADERS,
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Tenant not found"
