"""`client.reserve(...)` against the real tenants and cost-intel services (uvicorn, real
Postgres and Redis), sync and async."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sdk_live import UvicornThread, free_port

from aos_sdk import AOSClient, AsyncAOSClient, BudgetExceededError

pytest.importorskip("aos_tenants.main")
pytest.importorskip("aos_cost_intel.main")


@dataclass
class Services:
    tenants: str
    cost_intel: str
    operator_key: str

    def urls(self) -> dict[str, str]:
        return {"tenants": self.tenants, "cost-intel": self.cost_intel}

    def tenant_with_budget(self, limit_cents: str) -> str:
        """A fresh tenant with a hard daily budget; its admin API key."""
        created = httpx.post(
            f"{self.tenants}/api/v1/tenants",
            json={"name": f"sdk-{secrets.token_hex(4)}"},
            headers={"X-AOS-Key": self.operator_key},
        )
        assert created.status_code == 201, created.text
        key = created.json()["initial_api_key"]["key"]
        budget = httpx.post(
            f"{self.cost_intel}/api/v1/cost/budgets",
            json={
                "budget_type": "tenant",
                "daily_limit_cents": limit_cents,
                "hard_limit_enabled": True,
            },
            headers={"X-AOS-Key": key},
        )
        assert budget.status_code == 201, budget.text
        return str(key)

    def held_cents(self, key: str) -> Decimal:
        budgets = httpx.get(f"{self.cost_intel}/api/v1/cost/budgets", headers={"X-AOS-Key": key})
        return Decimal(budgets.json()[0]["held_cents"])


@pytest.fixture(scope="module")
def services(database_url: str, redis_url: str) -> Iterator[Services]:
    from aos_common.testing import migrate
    from aos_cost_intel.main import create_app as cost_app
    from aos_cost_intel.settings import CostIntelSettings
    from aos_tenants.main import create_app as tenants_app
    from aos_tenants.settings import TenantsSettings

    migrate("aos_tenants", database_url)
    migrate("aos_cost_intel", database_url)
    ports = {"tenants": free_port(), "cost-intel": free_port()}
    operator_key = "aos_op_" + secrets.token_hex(16)
    common: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "operator_key": operator_key,
        "tenants_url": f"http://127.0.0.1:{ports['tenants']}",
        "cost_intel_url": f"http://127.0.0.1:{ports['cost-intel']}",
        "telemetry_enabled": False,
        "database_pool_size": 3,
    }
    servers = [
        UvicornThread(tenants_app(TenantsSettings(**common)), ports["tenants"]),
        UvicornThread(
            cost_app(CostIntelSettings(**common, detector_interval_seconds=0)),
            ports["cost-intel"],
        ),
    ]
    for server in servers:
        server.start()
    try:
        yield Services(servers[0].url, servers[1].url, operator_key)
    finally:
        for server in servers:
            server.stop()


def test_a_hold_settles_the_actual_cost(services: Services) -> None:
    key = services.tenant_with_budget("100")
    with AOSClient(key, services=services.urls()) as client:
        with client.reserve(estimated_cost_cents=60, feature="support.chat") as hold:
            assert hold.status == "held" and hold.held_cents == Decimal(60)
            assert services.held_cents(key) == Decimal(60)
            assert hold.attributes == {"aos.reservation_id": hold.id}
            hold.settle(actual_cost_cents="42.5")
    assert (hold.status, hold.charged_cents) == ("settled", Decimal("42.5"))
    assert services.held_cents(key) == 0


def test_a_reservation_over_the_budget_raises_before_the_work(services: Services) -> None:
    key = services.tenant_with_budget("100")
    ran = False
    with AOSClient(key, services=services.urls()) as client, pytest.raises(BudgetExceededError):
        with client.reserve(estimated_cost_cents="100.01"):
            ran = True
    assert not ran


def test_leaving_without_settling_releases_the_hold(services: Services) -> None:
    key = services.tenant_with_budget("100")
    with AOSClient(key, services=services.urls()) as client:
        with pytest.raises(RuntimeError), client.reserve(estimated_cost_cents=70) as hold:
            raise RuntimeError("the model call failed")
    assert hold.status == "released"
    assert services.held_cents(key) == 0


async def test_the_async_client_reserves_and_settles_with_records(services: Services) -> None:
    key = services.tenant_with_budget("1000")
    async with AsyncAOSClient(key, services=services.urls()) as client:
        async with client.reserve(estimated_cost_cents=500, model="gpt-4o") as hold:
            await hold.settle(records=[{"model": "gpt-4o", "input_tokens": 1000}])
    assert hold.status == "settled" and hold.charged_cents is not None and hold.charged_cents > 0
    assert services.held_cents(key) == 0


def test_an_open_hold_outlives_the_call_until_settled(services: Services) -> None:
    key = services.tenant_with_budget("100")
    with AOSClient(key, services=services.urls()) as client:
        hold = client.reserve(estimated_cost_cents=30, ttl_seconds=600).open()
        assert services.held_cents(key) == Decimal(30)
        hold.settle(actual_cost_cents=30)
    assert hold.status == "settled" and services.held_cents(key) == 0
