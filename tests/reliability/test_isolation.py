"""The isolation sweep: tenant B's key over every GET route of every service, with tenant A's ids
in every path parameter and A's tenant id in `tenant_id`. B must never see A's data: a refusal
(4xx) or an answer holding none of what only A's records hold (a marker written into them, A's
tenant id). Run on each service's port and through the gateway."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aos_cli.testing import RunningPlatform

from .conftest import Tenant, create_tenant

SERVICES = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs")
PARAMETER = re.compile(r"\{[^}]+\}")


@dataclass(frozen=True)
class Seeded:
    tenant: Tenant
    marker: str
    ids: tuple[str, ...]


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body = response.json()
    return body.get("data", body) if isinstance(body, dict) else body


def seed(gateway: httpx.Client, tenant: Tenant) -> Seeded:
    """Records of every kind in tenant A, each carrying the marker in a field only A can read."""
    marker = "only-a-" + secrets.token_hex(6)
    headers = tenant.headers
    run_id = "run_" + secrets.token_hex(6)
    trace_id = "trace_" + secrets.token_hex(6)
    trace = {
        "trace_id": trace_id,
        "run_id": run_id,
        "agent_id": marker,
        "status": "completed",
        "started_at": "2026-01-01T00:00:00+00:00",
        "completed_at": "2026-01-01T00:00:30+00:00",
        "seed": 7,
        "metadata": {"note": marker},
        "steps": [
            {
                "step_index": 0,
                "skill_id": "skill.search",
                "skill_name": marker,
                "params": {"q": marker},
                "status": "success",
                "outcome_category": "ok",
                "outcome_data": {"answer": marker},
                "cost_cents": 1.0,
                "duration_ms": 10,
                "retry_count": 0,
                "timestamp": "2026-01-01T00:00:01+00:00",
            }
        ],
    }
    created(gateway.post("/api/v1/traces", json={"trace": trace}, headers=headers))
    created(
        gateway.post(
            "/api/v1/cost/record",
            json={
                "model": "gpt-4o",
                "input_tokens": 100,
                "output_tokens": 10,
                "user_id": "user-a",
                "feature_tag": "feature_a.chat",
                "workflow_id": run_id,
                "request_id": "request-a",
            },
            headers=headers,
        )
    )
    created(
        gateway.post(
            "/api/v1/cost/features",
            json={"tag": "feature_a.chat", "display_name": marker},
            headers=headers,
        )
    )
    entry = created(
        gateway.post(
            "/api/v1/audit/entries",
            json={
                "event_type": "LimitCreated",
                "entity_type": "LIMIT",
                "entity_id": "limit-a",
                "action_reason": marker,
                "after_state": {"note": marker},
            },
            headers=headers,
        )
    )
    key = created(gateway.post("/api/v1/tenant/api-keys", json={"name": marker}, headers=headers))
    created(
        gateway.put(
            "/api/v1/workers/code-reviewer/config",
            json={"brand": {"name": marker}},
            headers=headers,
        )
    )
    run = created(
        gateway.post(
            "/api/v1/runs", json={"worker_id": "code-reviewer", "task": marker}, headers=headers
        )
    )
    ids = (
        tenant.id,
        trace_id,
        run_id,
        str(entry["id"]),
        str(key["id"]),
        str(run["id"]),
        "feature_a.chat",
        "user-a",
        "request-a",
        "limit-a",
        "code-reviewer",
        "1",
    )
    return Seeded(tenant=tenant, marker=marker, ids=ids)


@pytest.fixture(scope="module")
def tenant_a(platform: RunningPlatform, gateway: httpx.Client) -> Seeded:
    return seed(gateway, create_tenant(platform, gateway))


@pytest.fixture(scope="module")
def tenant_b(platform: RunningPlatform, gateway: httpx.Client) -> Tenant:
    return create_tenant(platform, gateway)


def get_operations(schema: dict[str, Any]) -> list[tuple[str, bool]]:
    """(path template, takes a tenant_id query parameter) of every GET operation."""
    operations = []
    for path, item in schema["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        operations.append((path, "tenant_id" in names))
    return operations


def probes(path: str, takes_tenant: bool, a: Seeded) -> list[tuple[str, dict[str, str]]]:
    params = {"tenant_id": a.tenant.id} if takes_tenant else {}
    if not PARAMETER.search(path):
        return [(path, params)]
    return [(PARAMETER.sub(value, path), params) for value in a.ids]


def leaks(response: httpx.Response, a: Seeded) -> bool:
    if response.status_code >= 400:
        return False
    text = response.content.decode("utf-8", "replace")
    return a.marker in text or a.tenant.id in text


def sweep(client: httpx.Client, schema: dict[str, Any], a: Seeded, b: Tenant) -> list[str]:
    found = []
    for template, takes_tenant in get_operations(schema):
        for path, params in probes(template, takes_tenant, a):
            response = client.get(path, params=params, headers=b.headers)
            if response.status_code >= 500 or leaks(response, a):
                found.append(
                    f"GET {path} {params} -> {response.status_code}: {response.text[:200]}"
                )
    return found


def test_tenant_a_can_read_its_own_marker(gateway: httpx.Client, tenant_a: Seeded) -> None:
    """The sweep's premise: the marker is readable, so its absence for B means something."""
    response = gateway.get("/api/v1/workers/code-reviewer/config", headers=tenant_a.tenant.headers)
    assert tenant_a.marker in response.text


@pytest.mark.parametrize("name", SERVICES)
def test_tenant_b_never_reads_tenant_a_on_the_service_port(
    service: dict[str, httpx.Client], tenant_a: Seeded, tenant_b: Tenant, name: str
) -> None:
    schema = service[name].get("/openapi.json").json()
    assert sweep(service[name], schema, tenant_a, tenant_b) == []


@pytest.mark.parametrize("name", SERVICES)
def test_tenant_b_never_reads_tenant_a_through_the_gateway(
    service: dict[str, httpx.Client],
    gateway: httpx.Client,
    tenant_a: Seeded,
    tenant_b: Tenant,
    name: str,
) -> None:
    schema = service[name].get("/openapi.json").json()
    schema["paths"] = {p: i for p, i in schema["paths"].items() if not p.startswith("/internal/")}
    assert sweep(gateway, schema, tenant_a, tenant_b) == []
