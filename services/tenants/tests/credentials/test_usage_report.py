"""The usage route: API calls a gateway served from its cache of forward-auth grants."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from aos_common.auth import Principal, service_principal, sign_context
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET
from aos_common.testing.tenants import NewTenant, create_key

USAGE = "/internal/v1/auth/usage"


def gateway_headers() -> dict[str, str]:
    return sign_context(service_principal("gateway"), DEVELOPMENT_INTERNAL_SECRET)


def _report(tenant: NewTenant, key_id: str | None, requests: int) -> dict[str, Any]:
    return {
        "batch_id": secrets.token_hex(16),
        "entries": [{"tenant_id": tenant.id, "key_id": key_id, "requests": requests}],
    }


async def _metered(client: httpx.AsyncClient, tenant: NewTenant, key_id: str, total: int) -> None:
    """Wait for the write-back (0.1 s in tests) to show `total` calls on the tenant and the key."""
    for _ in range(60):
        usage = (await client.get("/api/v1/tenant/usage?period=24h", headers=tenant.headers)).json()
        listed = (await client.get("/api/v1/tenant/api-keys", headers=tenant.headers)).json()
        key = next(item for item in listed if item["id"] == key_id)
        if usage["meters"]["api_calls"]["total"] == total and key["total_requests"] == total:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {total}, got {usage['meters']['api_calls']} / {key}")


async def test_a_report_meters_api_calls_and_key_use_like_forward_calls(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    key = await create_key(client, tenant)
    forwarded = await client.get("/internal/v1/auth/forward", headers={"X-AOS-Key": key["key"]})
    assert forwarded.status_code == 200
    report = _report(tenant, key["id"], 41)
    response = await client.post(USAGE, json=report, headers=gateway_headers())
    assert response.status_code == 200, response.text
    assert response.json() == {"batch_id": report["batch_id"], "recorded": True}
    await _metered(client, tenant, key["id"], 42)
    usage = (await client.get("/api/v1/tenant/usage?period=24h", headers=tenant.headers)).json()
    assert {"tenants.forward_auth", "gateway.auth_cache"} <= set(usage["provenance"]["sources"])


async def test_a_repeated_batch_is_acknowledged_but_counted_once(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    key = await create_key(client, tenant)
    report = _report(tenant, key["id"], 5)
    first = await client.post(USAGE, json=report, headers=gateway_headers())
    again = await client.post(USAGE, json=report, headers=gateway_headers())
    assert first.json()["recorded"] is True
    assert again.status_code == 200 and again.json()["recorded"] is False
    await _metered(client, tenant, key["id"], 5)
    await asyncio.sleep(0.3)  # a second write-back would have happened by now
    await _metered(client, tenant, key["id"], 5)


async def test_only_a_signed_service_context_may_report(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    report = _report(tenant, None, 1)
    anonymous = await client.post(USAGE, json=report, headers=tenant.headers)
    assert anonymous.status_code == 401
    as_tenant = sign_context(
        Principal(tenant_id=tenant.id, principal_id="key_x", principal_type="api_key"),
        DEVELOPMENT_INTERNAL_SECRET,
    )
    forbidden = await client.post(USAGE, json=report, headers=as_tenant)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"


async def test_a_malformed_report_is_a_422_problem(client: httpx.AsyncClient) -> None:
    for body in (
        {"batch_id": "short", "entries": []},
        {"batch_id": "b" * 32, "entries": [{"tenant_id": "tnt_x", "requests": 0}]},
        {"batch_id": "b" * 32, "entries": [{"tenant_id": "tnt_x", "requests": 1, "x": 1}]},
    ):
        response = await client.post(USAGE, json=body, headers=gateway_headers())
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
