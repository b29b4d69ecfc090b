"""Helpers for tests that need tenants and keys (this service's tests and cross-service ones)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response

TEST_OPERATOR_KEY = "aos_op_" + "t" * 40
TEST_JWT_SECRET = "tenants-test-jwt-secret-0123456789abcdef"
OPERATOR_HEADERS = {"X-AOS-Key": TEST_OPERATOR_KEY}


@dataclass
class NewTenant:
    id: str
    admin_key: str
    body: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-AOS-Key": self.admin_key}


TenantFactory = Callable[..., Awaitable[NewTenant]]


async def create_tenant(
    client: httpx.AsyncClient,
    name: str = "Acme",
    *,
    operator_headers: dict[str, str] = OPERATOR_HEADERS,
    **limits: Any,
) -> NewTenant:
    """Create a tenant through the API (as operator), optionally patching its limits."""
    response = await client.post("/api/v1/tenants", json={"name": name}, headers=operator_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    if limits:
        patched = await client.patch(
            f"/api/v1/tenants/{body['id']}", json=limits, headers=operator_headers
        )
        assert patched.status_code == 200, patched.text
    return NewTenant(body["id"], body["initial_api_key"]["key"], body)


async def create_key(client: httpx.AsyncClient, tenant: NewTenant, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/tenant/api-keys", json={"name": "k", **body}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


# cost-intel and audit-ledger are other services; these stand-ins honour the contract routes the
# tenants service calls (budget guard, audit entries) so that tests can steer them.
@dataclass
class Peers:
    exhausted_budgets: dict[str, str] = field(default_factory=dict)
    deny_when_unavailable: set[str] = field(default_factory=set)
    cost_intel_up: bool = True
    audit_ledger_up: bool = True
    guard_calls: int = 0
    audit_entries: dict[str, dict[str, Any]] = field(default_factory=dict)


def build_peers_app(peers: Peers) -> FastAPI:
    app = FastAPI()

    @app.get("/internal/v1/cost/guard")
    async def guard(tenant_id: str, estimated_cost_cents: int = 0) -> Any:
        peers.guard_calls += 1
        budget_id = peers.exhausted_budgets.get(tenant_id)
        return {
            "allowed": budget_id is None,
            "reason": f"Budget exhausted: {budget_id}" if budget_id else None,
            "budget_id": budget_id,
            "remaining_cents": 0 if budget_id else 1000,
            "on_unavailable": "deny" if tenant_id in peers.deny_when_unavailable else "allow",
        }

    @app.post("/internal/v1/audit/entries", status_code=201)
    async def audit(request: Request) -> dict[str, Any]:
        entry = await request.json()
        peers.audit_entries.setdefault(entry["id"], entry)
        return entry

    @app.middleware("http")
    async def outage(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        path = request.url.path
        if (path.startswith("/internal/v1/cost") and not peers.cost_intel_up) or (
            path.startswith("/internal/v1/audit") and not peers.audit_ledger_up
        ):
            return Response(status_code=503)
        return await call_next(request)

    return app
