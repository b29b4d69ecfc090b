"""Fixtures: one migrated database per session, one running app per test module, a fresh
tenant per test (tests isolate by tenant, never by truncating)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from aos_common.testing import app_client, migrate, principal_headers
from aos_cost_intel.domain.pricing import price_book_document, shipped_price_book
from aos_cost_intel.main import create_app
from aos_cost_intel.settings import CostIntelSettings

OPERATOR_KEY = "aos_op_" + "c" * 40


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> str:
    migrate("aos_cost_intel", database_url)
    return database_url


@pytest.fixture(scope="session")
def settings(migrated_database: str, redis_url: str) -> CostIntelSettings:
    return CostIntelSettings(
        database_url=migrated_database,
        redis_url=redis_url,
        environment="test",
        telemetry_enabled=False,
        operator_key=OPERATOR_KEY,
        detector_interval_seconds=0,
        outbox_interval_seconds=3600,
        alert_interval_seconds=0,
        webhook_interval_seconds=0,
    )


@pytest.fixture(scope="module")
async def client(settings: CostIntelSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(settings)) as http:
        yield http


@pytest.fixture
def tenant() -> str:
    return "tnt_" + secrets.token_hex(8)


Headers = Callable[..., dict[str, str]]


@pytest.fixture
def as_role(tenant: str) -> Headers:
    """Headers of a principal of the test's tenant with the given roles (default admin)."""

    def headers(
        *roles: str, tenant_id: str | None = None, permissions: list[str] | None = None
    ) -> dict[str, str]:
        return principal_headers(
            tenant_id or tenant, roles=list(roles) or ["admin"], permissions=permissions
        )

    return headers


@pytest.fixture
def admin(as_role: Headers) -> dict[str, str]:
    return as_role("admin")


@pytest.fixture
def operator() -> dict[str, str]:
    return {"X-AOS-Key": OPERATOR_KEY}


@pytest.fixture
async def restore_prices(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> AsyncIterator[None]:
    """Tests that load price books put the shipped one back as current afterwards."""
    yield
    document = price_book_document(shipped_price_book())
    response = await client.put("/api/v1/cost/prices", json=document, headers=operator)
    assert response.status_code == 200, response.text
