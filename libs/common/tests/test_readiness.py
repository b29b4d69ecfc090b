"""/readyz of every service answers 503 at once when its database is frozen (a server that accepts
and never answers), and 200 again once it thaws."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from aos_common.migrations import upgrade_all
from aos_common.services import SERVICES, ServiceSpec
from aos_common.testing import app_client, run_in_thread
from aos_common.testing.servers import FreezableProxy, freezable_proxy, postgres_address

# Bounds a hang so that it fails the test; docs/RELIABILITY.md records the measured answer time.
HANG_GUARD_SECONDS = 3.0


@pytest.fixture(scope="module")
def all_migrated(database_url: str) -> str:
    run_in_thread(lambda: upgrade_all(database_url))
    return database_url


@pytest.fixture
async def proxy(all_migrated: str) -> AsyncIterator[FreezableProxy]:
    async with freezable_proxy(postgres_address(make_url(all_migrated))) as running:
        yield running


def service_app(
    package: str, database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> FastAPI:
    for name, value in {
        "AOS_DATABASE_URL": database_url,
        "AOS_REDIS_URL": redis_url,
        "AOS_ENVIRONMENT": "test",
        "AOS_TELEMETRY_ENABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)
    return importlib.import_module(f"{package}.main").create_app()


async def ready(client: httpx.AsyncClient) -> httpx.Response:
    return await asyncio.wait_for(client.get("/readyz"), timeout=HANG_GUARD_SECONDS)


async def becomes_ready(client: httpx.AsyncClient, attempts: int = 40) -> bool:
    """A fresh connection may miss one readiness budget on a loaded machine; it must not miss all."""
    for _ in range(attempts):
        if (await ready(client)).status_code == 200:
            return True
        await asyncio.sleep(0.25)
    return False


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
async def test_readyz_says_not_ready_at_once_when_the_database_is_frozen(
    spec: ServiceSpec,
    all_migrated: str,
    proxy: FreezableProxy,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    direct = make_url(all_migrated).difference_update_query(["host"])  # no Unix socket directory
    via_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    url = via_proxy.render_as_string(hide_password=False)
    app = service_app(spec.package, url, redis_url, monkeypatch)
    async with app_client(app) as client:
        assert await becomes_ready(client)
        proxy.freeze()
        for _ in range(3):
            frozen = await ready(client)
            assert frozen.status_code == 503
            assert frozen.headers["content-type"] == "application/problem+json"
            assert frozen.json()["detail"] == "Not ready: database unavailable"
            assert frozen.json()["checks"]["redis"] == "ok"
        proxy.thaw()
        assert await becomes_ready(client)
