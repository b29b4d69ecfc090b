"""Fixtures of the traces tests: the app on real Postgres and Redis (one per session), fresh
random tenants per test (tests isolate by tenant), a local HTTP server standing in for GitHub
or a webhook receiver."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from aos_common.testing import app_client, migrate
from aos_traces.main import create_app

from .support import LocalServer, Tenant, start_local_server, traces_settings


@pytest.fixture(scope="session")
async def client(database_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    migrate("aos_traces", database_url)
    app = create_app(traces_settings(database_url, redis_url))
    async with app_client(app) as http:
        yield http


@pytest.fixture
def tenant() -> Tenant:
    return Tenant("tnt_" + secrets.token_hex(8))


@pytest.fixture
def other_tenant() -> Tenant:
    return Tenant("tnt_" + secrets.token_hex(8))


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    server, stop = start_local_server()
    try:
        yield server
    finally:
        stop()
