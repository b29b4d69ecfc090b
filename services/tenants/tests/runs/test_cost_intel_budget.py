"""With the real cost-intel service (in-process): an exhausted hard tenant budget refuses runs;
an API key's own budget reaches cost-intel through the outbox and limits that key's reservations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI

from aos_common.auth import Principal, sign_context
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET
from aos_common.state import service_state
from aos_common.testing import (
    app_client,
    create_database,
    drop_database,
    migrate,
    principal_headers,
)
from aos_common.testing.tenants import Peers, build_peers_app, create_key, create_tenant
from aos_tenants.main import create_app
from aos_tenants.settings import TenantsSettings

cost_intel_main = pytest.importorskip("aos_cost_intel.main")
cost_intel_settings = pytest.importorskip("aos_cost_intel.settings")


class Wired(NamedTuple):
    tenants: httpx.AsyncClient
    cost_intel: httpx.AsyncClient
    tenants_app: FastAPI


@pytest.fixture(scope="module")
def own_database(postgres_server_url: str) -> Iterator[str]:
    """A database of this module's own. The session's other tenants app (conftest) shares the
    session database, so its outbox relay, whose cost-intel is a stand-in without the key-budget
    route, could claim the key budget's message first and have it refused (retried only 5 min
    later): the message "never arrived". Here only this module's relay reads the outbox."""
    url = create_database(postgres_server_url, prefix="aos_budget")
    migrate("aos_tenants", url)
    migrate("aos_cost_intel", url)
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
async def wired(settings: TenantsSettings, own_database: str) -> AsyncIterator[Wired]:
    """tenants and cost-intel in-process, each the other's peer; audit entries go to a stand-in
    (never to whatever listens on the default audit-ledger port)."""
    audit = httpx.ASGITransport(app=build_peers_app(Peers()))
    cost_transports: dict[str, httpx.AsyncBaseTransport] = {"audit-ledger": audit}
    cost_app = cost_intel_main.create_app(
        cost_intel_settings.CostIntelSettings(
            database_url=own_database,
            redis_url=settings.redis_url,
            environment="test",
            telemetry_enabled=False,
            outbox_interval_seconds=0.1,
        ),
        transports=cost_transports,
    )
    tenants_app = create_app(
        settings.model_copy(update={"database_url": own_database}),
        transports={"cost-intel": httpx.ASGITransport(app=cost_app), "audit-ledger": audit},
    )
    cost_transports["tenants"] = httpx.ASGITransport(app=tenants_app)  # read at its lifespan
    async with app_client(tenants_app) as tenants_client, app_client(cost_app) as cost_client:
        yield Wired(tenants_client, cost_client, tenants_app)


async def test_exhausted_hard_tenant_budget_refuses_run_with_402(wired: Wired) -> None:
    tenants, cost_intel, _ = wired
    tenant = await create_tenant(tenants, "Budgeted")
    body = {"worker_id": "support-triage", "task": "t"}
    assert (
        await tenants.post("/api/v1/runs", json=body, headers=tenant.headers)
    ).status_code == 201
    budget = await cost_intel.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "daily_limit_cents": 0, "hard_limit_enabled": True},
        headers=principal_headers(tenant.id),
    )
    assert budget.status_code == 201, budget.text
    refused = await tenants.post("/api/v1/runs", json=body, headers=tenant.headers)
    assert refused.status_code == 402
    assert refused.json()["detail"] == f"Budget exhausted: {budget.json()['id']}"
    quota = (await tenants.get("/api/v1/tenant/quota/runs", headers=tenant.headers)).json()
    assert quota["allowed"] is False and quota["reason"] == refused.json()["detail"]


def _as_key(tenant_id: str, key_id: str) -> dict[str, str]:
    principal = Principal(
        tenant_id=tenant_id,
        principal_id=key_id,
        principal_type="api_key",
        roles=["admin"],
        permissions=[],
        key_id=key_id,
    )
    return sign_context(principal, DEVELOPMENT_INTERNAL_SECRET)


async def _key_budgets_once_delivered(
    tenants_app: FastAPI, cost_intel: httpx.AsyncClient, tenant_id: str
) -> list[dict[str, Any]]:
    """The tenant's api_key budgets in cost-intel once the outbox delivered them (the app's own
    relay may be delivering the message at the same moment, so this waits, up to 20 s)."""
    found: list[dict[str, Any]] = []
    for _ in range(100):
        await service_state(tenants_app).outbox_relay.deliver_pending()
        budgets = (
            await cost_intel.get("/api/v1/cost/budgets", headers=principal_headers(tenant_id))
        ).json()
        found = [b for b in budgets if b["budget_type"] == "api_key"]
        if found:
            break
        await asyncio.sleep(0.2)
    return found


async def test_a_key_budget_is_listed_and_limits_the_keys_reservations(wired: Wired) -> None:
    tenants, cost_intel, tenants_app = wired
    tenant = await create_tenant(tenants, "Key budgets")
    key = await create_key(tenants, tenant, budget={"limit_cents": "25", "period": "weekly"})
    assert key["budget"] == {"limit_cents": "25", "period": "weekly"}
    listing = (await tenants.get("/api/v1/tenant/api-keys", headers=tenant.headers)).json()
    assert next(k for k in listing if k["id"] == key["id"])["budget"] == key["budget"]
    [budget] = await _key_budgets_once_delivered(tenants_app, cost_intel, tenant.id)
    assert (budget["entity_id"], budget["weekly_limit_cents"]) == (key["id"], "25")
    assert budget["hard_limit_enabled"] is True and budget["on_unavailable"] == "deny"
    headers = _as_key(tenant.id, key["id"])
    url = "/api/v1/cost/reservations"
    held = await cost_intel.post(url, json={"estimated_cost_cents": "20"}, headers=headers)
    assert held.status_code == 201, held.text
    refused = await cost_intel.post(url, json={"estimated_cost_cents": "10"}, headers=headers)
    assert refused.status_code == 402
    assert refused.json()["budget_id"] == budget["id"]
    other_key = _as_key(tenant.id, "key_0000000000000000")
    assert (
        await cost_intel.post(url, json={"estimated_cost_cents": "10"}, headers=other_key)
    ).status_code == 201
