"""Every guard-logs route: credentials required, tenant scope enforced, operators may cross."""

from __future__ import annotations

from typing import Any

import pytest

from aos_common.testing import app_client, principal_headers
from aos_guard_logs.main import create_app
from aos_guard_logs.settings import GuardLogsSettings

from .conftest import Platform, make_trace, new_tenant, reader, settings_kwargs, store_trace

ROUTES = [
    "/api/v1/guard/logs",
    "/api/v1/guard/logs/export",
    "/api/v1/guard/logs/{log_id}",
    "/api/v1/guard/logs/{log_id}/bundle",
    "/api/v1/logs/llm-runs",
    "/api/v1/logs/llm-runs/{run_id}",
    "/api/v1/logs/audit",
    "/api/v1/logs/exports",
    "/api/v1/logs/exports/lx_0000000000000000",
]


@pytest.fixture(scope="module")
async def owned(platform: Platform) -> dict[str, Any]:
    tenant = new_tenant()
    trace = await store_trace(platform, tenant, make_trace(7))
    return {
        "tenant": tenant,
        "run_id": trace["run_id"],
        "log_id": "log_" + trace["run_id"].removeprefix("run_"),
    }


def path(route: str, owned: dict[str, Any]) -> str:
    return route.format(log_id=owned["log_id"], run_id=owned["run_id"])


@pytest.mark.parametrize("route", ROUTES)
async def test_route_needs_credentials(
    platform: Platform, owned: dict[str, Any], route: str
) -> None:
    response = await platform.client.get(path(route, owned))
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


@pytest.mark.parametrize("route", ROUTES)
async def test_route_refuses_another_tenants_id(
    platform: Platform, owned: dict[str, Any], route: str
) -> None:
    response = await platform.client.get(
        path(route, owned), params={"tenant_id": owned["tenant"]}, headers=reader(new_tenant())
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Cannot access other tenant's data"


@pytest.mark.parametrize("route", ROUTES[:6])
async def test_operator_reads_a_named_tenant(
    platform: Platform, owned: dict[str, Any], route: str
) -> None:
    operator = principal_headers(None, roles=["operator"], principal_type="operator")
    response = await platform.client.get(
        path(route, owned), params={"tenant_id": owned["tenant"]}, headers=operator
    )
    assert response.status_code == 200, response.text


async def test_operator_must_name_a_tenant(platform: Platform) -> None:
    operator = principal_headers(None, roles=["operator"], principal_type="operator")
    response = await platform.client.get("/api/v1/guard/logs", headers=operator)
    assert response.status_code == 400


@pytest.fixture(scope="module")
async def stranded(database_url: str, redis_url: str) -> Any:
    """Guard-logs whose peers are all unreachable."""
    settings = GuardLogsSettings(
        **settings_kwargs(database_url, redis_url),
        traces_url="http://127.0.0.1:9",
        audit_ledger_url="http://127.0.0.1:9",
        cost_intel_url="http://127.0.0.1:9",
    )
    async with app_client(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("route", [r for r in ROUTES if "/exports" not in r])
async def test_an_unreachable_peer_is_a_503_not_a_500(
    stranded: Any, owned: dict[str, Any], route: str
) -> None:
    response = await stranded.get(path(route, owned), headers=reader(owned["tenant"]))
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Upstream ")
    assert response.json()["detail"].endswith(" unavailable")
    assert response.headers["retry-after"]
