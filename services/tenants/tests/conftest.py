"""Fixtures: the tenants app on real Postgres/Redis, with in-process stand-ins for its two peers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aos_common.testing import app_client, migrate
from aos_common.testing.tenants import (
    TEST_JWT_SECRET,
    TEST_OPERATOR_KEY,
    NewTenant,
    Peers,
    TenantFactory,
    build_peers_app,
    create_tenant,
)
from aos_tenants.main import create_app
from aos_tenants.settings import TenantsSettings


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    migrate("aos_tenants", database_url)
    return database_url


@pytest.fixture(scope="session")
def settings(migrated_url: str, redis_url: str) -> TenantsSettings:
    return TenantsSettings(
        database_url=migrated_url,
        redis_url=redis_url,
        environment="test",
        telemetry_enabled=False,
        operator_key=TEST_OPERATOR_KEY,
        jwt_secret=TEST_JWT_SECRET,
        usage_flush_interval_seconds=0.1,
        outbox_interval_seconds=0.1,
        cost_guard_retry_seconds=0,
    )


@pytest.fixture(scope="session")
def peers() -> Peers:
    return Peers()


@pytest.fixture(scope="session")
def tenants_app(settings: TenantsSettings, peers: Peers) -> FastAPI:
    transport = httpx.ASGITransport(app=build_peers_app(peers))
    return create_app(settings, transports={"cost-intel": transport, "audit-ledger": transport})


@pytest.fixture(scope="session")
async def client(tenants_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(tenants_app) as http_client:
        yield http_client


@pytest.fixture
def make_tenant(client: httpx.AsyncClient) -> TenantFactory:
    async def make(name: str = "Acme", **limits: Any) -> NewTenant:
        return await create_tenant(client, name, **limits)

    return make


@pytest.fixture
async def tenant(make_tenant: TenantFactory) -> NewTenant:
    return await make_tenant()
