"""With the real cost-intel service (in-process): an exhausted hard tenant budget refuses runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from aos_common.testing import app_client, migrate, principal_headers
from aos_tenants.main import create_app
from aos_tenants.settings import TenantsSettings
from aos_tenants.testing import create_tenant

cost_intel_main = pytest.importorskip("aos_cost_intel.main")
cost_intel_settings = pytest.importorskip("aos_cost_intel.settings")


@pytest.fixture(scope="module")
async def wired(
    settings: TenantsSettings, migrated_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    migrate("aos_cost_intel", migrated_url)
    cost_app = cost_intel_main.create_app(
        cost_intel_settings.CostIntelSettings(
            database_url=migrated_url,
            redis_url=settings.redis_url,
            environment="test",
            telemetry_enabled=False,
        )
    )
    async with app_client(cost_app) as cost_client:
        tenants_app = create_app(
            settings, transports={"cost-intel": httpx.ASGITransport(app=cost_app)}
        )
        async with app_client(tenants_app) as tenants_client:
            yield tenants_client, cost_client


async def test_exhausted_hard_tenant_budget_refuses_run_with_402(
    wired: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    tenants, cost_intel = wired
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
