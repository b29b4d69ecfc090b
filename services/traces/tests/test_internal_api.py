"""Internal read routes for guard-logs: signed service context required, tenant named by caller."""

from __future__ import annotations

import httpx
import orjson

from aos_common.auth import service_principal, sign_context
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET

from .support import Tenant, make_trace, store


def service_headers() -> dict[str, str]:
    """Signed anew on every use: a context is valid for 60 s only."""
    return sign_context(service_principal("guard-logs"), DEVELOPMENT_INTERNAL_SECRET)


async def test_logs_lists_summaries_with_total(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for agent in ("a", "a", "b"):
        await store(client, tenant, make_trace(agent_id=agent))
    body = (
        await client.get(
            "/internal/v1/traces/logs",
            params={"tenant_id": tenant.id, "agent_id": "a", "limit": 1},
            headers=service_headers(),
        )
    ).json()
    assert body["total"] == 2 and len(body["items"]) == 1
    assert body["items"][0]["agent_id"] == "a"


async def test_stream_yields_one_summary_per_line(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for _ in range(3):
        await store(client, tenant, make_trace())
    response = await client.get(
        "/internal/v1/traces/logs/stream",
        params={"tenant_id": tenant.id, "limit": 100000},
        headers=service_headers(),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    assert len(lines) == 3 and all(line["tenant_id"] == tenant.id for line in lines)
    too_many = await client.get(
        "/internal/v1/traces/logs/stream",
        params={"tenant_id": tenant.id, "limit": 100001},
        headers=service_headers(),
    )
    assert too_many.status_code == 422


async def test_document_and_integrity_by_run_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    trace = make_trace()
    stored = await store(client, tenant, trace)
    params = {"tenant_id": tenant.id}
    document = (
        await client.get(
            f"/internal/v1/traces/{trace['run_id']}", params=params, headers=service_headers()
        )
    ).json()
    assert document["trace_id"] == stored["trace_id"] and len(document["steps"]) == 2
    report = (
        await client.get(
            f"/internal/v1/traces/{stored['trace_id']}/integrity",
            params=params,
            headers=service_headers(),
        )
    ).json()
    assert report["grade"] == "FAIL" and report["state"] == "SEALED"
    other = await client.get(
        f"/internal/v1/traces/{trace['run_id']}",
        params={"tenant_id": "tnt_other"},
        headers=service_headers(),
    )
    assert other.status_code == 404


async def test_internal_routes_require_a_signed_context(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for path in (
        "/internal/v1/traces/logs",
        "/internal/v1/traces/logs/stream",
        "/internal/v1/traces/run_x",
        "/internal/v1/traces/run_x/integrity",
    ):
        response = await client.get(path, params={"tenant_id": tenant.id})
        assert response.status_code == 401, path
    missing_tenant = await client.get("/internal/v1/traces/logs", headers=service_headers())
    assert missing_tenant.status_code == 422
