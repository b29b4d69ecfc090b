"""Tenant routes through HTTP: create (operator), read, patch, usage, quotas, health."""

from __future__ import annotations

import httpx

from aos_common.testing.tenants import OPERATOR_HEADERS as OPERATOR
from aos_common.testing.tenants import NewTenant, TenantFactory


async def test_operator_creates_tenant_with_free_plan_defaults_and_initial_key(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/tenants", json={"name": "Globex Corp"}, headers=OPERATOR)
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("tnt_") and len(body["id"]) == 20
    assert body["slug"].startswith("globex-corp")
    assert (body["plan"], body["status"]) == ("free", "active")
    limits = [
        body[name]
        for name in (
            "max_workers",
            "max_runs_per_day",
            "max_concurrent_runs",
            "max_tokens_per_month",
            "max_api_keys",
        )
    ]
    assert limits == [3, 100, 5, 1_000_000, 5]
    assert (body["runs_today"], body["runs_this_month"], body["tokens_this_month"]) == (0, 0, 0)
    key = body["initial_api_key"]
    assert key["key"].startswith("aos_") and key["key_prefix"] == key["key"][:12]
    assert key["permissions"] == ["*"] and key["status"] == "active"


async def test_duplicate_slug_is_409(client: httpx.AsyncClient) -> None:
    body = {"name": "Initech", "slug": "initech-dup"}
    assert (await client.post("/api/v1/tenants", json=body, headers=OPERATOR)).status_code == 201
    again = await client.post("/api/v1/tenants", json=body, headers=OPERATOR)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["detail"] == "Tenant slug 'initech-dup' already exists"


async def test_same_name_without_slug_gets_a_distinct_slug(client: httpx.AsyncClient) -> None:
    first = await client.post("/api/v1/tenants", json={"name": "Same Name"}, headers=OPERATOR)
    second = await client.post("/api/v1/tenants", json={"name": "Same Name"}, headers=OPERATOR)
    assert second.status_code == 201
    assert first.json()["slug"] != second.json()["slug"]


async def test_tenant_admin_cannot_create_tenants(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    response = await client.post("/api/v1/tenants", json={"name": "x"}, headers=tenant.headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires role operator"


async def test_create_tenant_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/tenants", json={"name": "x"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


async def test_create_tenant_validates_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/tenants", json={"name": "", "plan": "gold"}, headers=OPERATOR
    )
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"name", "plan"}


async def test_read_own_tenant(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get("/api/v1/tenant", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["id"] == tenant.id
    assert "initial_api_key" not in response.json()


async def test_other_tenant_query_is_403(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    mine, theirs = await make_tenant("Mine"), await make_tenant("Theirs")
    response = await client.get(f"/api/v1/tenant?tenant_id={theirs.id}", headers=mine.headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "Cannot access other tenant's data"
    by_id = await client.get(f"/api/v1/tenants/{theirs.id}", headers=mine.headers)
    assert by_id.status_code == 403


async def test_operator_reads_any_tenant(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get(f"/api/v1/tenant?tenant_id={tenant.id}", headers=OPERATOR)
    assert response.status_code == 200 and response.json()["id"] == tenant.id


async def test_operator_patches_plan_status_and_limits(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    response = await client.patch(
        f"/api/v1/tenants/{tenant.id}",
        json={"status": "suspended", "max_runs_per_day": 7},
        headers=OPERATOR,
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["max_runs_per_day"]) == ("suspended", 7)
    upgraded = await client.patch(
        f"/api/v1/tenants/{tenant.id}", json={"plan": "pro"}, headers=OPERATOR
    )
    assert upgraded.json()["plan"] == "pro"
    assert upgraded.json()["max_api_keys"] == 20


async def test_patch_unknown_tenant_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/api/v1/tenants/tnt_0000000000000000", json={"status": "active"}, headers=OPERATOR
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Tenant not found"


async def test_patch_rejects_unknown_status(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.patch(
        f"/api/v1/tenants/{tenant.id}", json={"status": "deleted"}, headers=OPERATOR
    )
    assert response.status_code == 422


async def test_tenant_admin_cannot_patch(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.patch(
        f"/api/v1/tenants/{tenant.id}", json={"max_runs_per_day": 10_000}, headers=tenant.headers
    )
    assert response.status_code == 403


async def test_health_needs_no_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tenant/health")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["data"]["status"] == "healthy"
    assert "runs" in body["data"]["features"]
    assert body["meta"]["request_id"] == response.headers["x-request-id"]


async def test_run_quota_defaults(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get("/api/v1/tenant/quota/runs", headers=tenant.headers)
    assert response.json() == {
        "allowed": True,
        "reason": None,
        "quota_name": "runs_per_day",
        "current": 0,
        "limit": 100,
    }


async def test_run_quota_suspended(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    tenant = await make_tenant(status="suspended")
    response = await client.get("/api/v1/tenant/quota/runs", headers=tenant.headers)
    assert response.json()["allowed"] is False
    assert response.json()["reason"] == "Tenant is suspended"


async def test_token_quota(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    tenant = await make_tenant(max_tokens_per_month=50_000)
    ok = await client.get("/api/v1/tenant/quota/tokens", headers=tenant.headers)
    assert ok.json() == {
        "allowed": True,
        "reason": None,
        "quota_name": "tokens_per_month",
        "current": 0,
        "limit": 50_000,
    }
    too_many = await client.get(
        "/api/v1/tenant/quota/tokens?tokens_needed=50001", headers=tenant.headers
    )
    assert too_many.json()["allowed"] is False
    assert too_many.json()["reason"] == "Monthly token limit (50000) would be exceeded"


async def test_token_quota_rejects_zero(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get(
        "/api/v1/tenant/quota/tokens?tokens_needed=0", headers=tenant.headers
    )
    assert response.status_code == 422


async def test_usage_defaults_to_zero_meters_with_provenance(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    response = await client.get("/api/v1/tenant/usage?period=7d", headers=tenant.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["tenant_id"] == tenant.id
    assert set(body["meters"]) >= {"runs", "tokens", "api_calls", "cost_cents"}
    assert body["meters"]["runs"] == {"total": 0.0, "unit": "runs"}
    assert body["total_records"] == 0
    assert body["provenance"]["aggregation"] == "SUM"
    assert body["provenance"]["window"]["period"] == "7d"


async def test_usage_rejects_unknown_period(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get("/api/v1/tenant/usage?period=1y", headers=tenant.headers)
    assert response.status_code == 422
