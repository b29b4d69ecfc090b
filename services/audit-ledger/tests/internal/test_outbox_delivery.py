"""The receiving side of the transactional outbox, end to end: the REAL tenants service creates and
revokes API keys while the audit ledger is unreachable; its outbox relay delivers every event
exactly once after the ledger comes back, including when replies are lost and on redelivery."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from aos_common.testing import app_client, create_database, drop_database, migrate
from aos_common.testing.tenants import (
    TEST_JWT_SECRET,
    TEST_OPERATOR_KEY,
    Peers,
    build_peers_app,
    create_key,
    create_tenant,
)
from aos_tenants.main import create_app as create_tenants_app
from aos_tenants.settings import TenantsSettings

from ..support import admin

# The outage the issue names: 30 s (AOS_AUDIT_OUTAGE_SECONDS shortens it for a quick local run).
OUTAGE_SECONDS = float(os.environ.get("AOS_AUDIT_OUTAGE_SECONDS", "30"))


class FlakyLink(httpx.AsyncBaseTransport):
    """The network between tenants and the ledger: up, down (connection refused), or lossy (the
    request arrives and is processed, the reply is lost)."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.state = "up"
        self.refused = 0
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.state == "down":
            self.refused += 1
            raise httpx.ConnectError("audit-ledger is down", request=request)
        response = await self.inner.handle_async_request(request)
        if self.state == "lossy":
            await response.aread()
            self.lost += 1
            raise httpx.ReadError("connection reset before the reply", request=request)
        return response


@dataclass
class Producer:
    client: httpx.AsyncClient
    link: FlakyLink
    database_url: str

    async def sql(self, statement: str, *args: object) -> object:
        connection = await asyncpg.connect(self.database_url)
        try:
            return await connection.fetchval(statement, *args)
        finally:
            await connection.close()

    async def pending(self, tenant_id: str) -> int:
        count = await self.sql(
            "SELECT count(*) FROM tenants.outbox "
            "WHERE delivered_at IS NULL AND payload->>'tenant_id' = $1",
            tenant_id,
        )
        return int(str(count))

    async def retry_now(self, tenant_id: str, *, redeliver: bool = False) -> None:
        """Skip the relay's backoff (and, with `redeliver`, forget that delivery succeeded)."""
        delivered = "delivered_at = NULL, " if redeliver else ""
        await self.sql(
            f"UPDATE tenants.outbox SET {delivered}next_attempt_at = now() "
            "WHERE payload->>'tenant_id' = $1",
            tenant_id,
        )

    async def drained(self, tenant_id: str, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while await self.pending(tenant_id):
            assert time.monotonic() < deadline, "outbox not drained"
            await asyncio.sleep(0.2)


@pytest.fixture
def producer_database_url(postgres_server_url: str) -> Iterator[str]:
    """The producer's own database: no other test's tenants app (and its relay) can drain it."""
    url = create_database(postgres_server_url)
    migrate("aos_tenants", url)
    yield url
    drop_database(url)


@pytest.fixture
async def producer(
    client: httpx.AsyncClient, app: FastAPI, producer_database_url: str, redis_url: str
) -> AsyncIterator[Producer]:
    link = FlakyLink(app)
    settings = TenantsSettings(
        database_url=producer_database_url,
        redis_url=redis_url,
        environment="test",
        telemetry_enabled=False,
        operator_key=TEST_OPERATOR_KEY,
        jwt_secret=TEST_JWT_SECRET,
        outbox_interval_seconds=0.2,
    )
    tenants = create_tenants_app(
        settings,
        transports={
            "audit-ledger": link,
            "cost-intel": httpx.ASGITransport(app=build_peers_app(Peers())),
        },
    )
    async with app_client(tenants) as tenants_client:
        yield Producer(tenants_client, link, producer_database_url)


async def ledger_entries(client: httpx.AsyncClient, tenant_id: str) -> list[dict]:
    response = await client.get(
        "/api/v1/audit/entries", params={"limit": 500}, headers=admin(tenant_id)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def entries_reach(
    client: httpx.AsyncClient, tenant_id: str, count: int, within: float = 30.0
) -> None:
    deadline = time.monotonic() + within
    while len(await ledger_entries(client, tenant_id)) < count:
        assert time.monotonic() < deadline, "entries not written in time"
        await asyncio.sleep(0.1)


async def test_key_events_arrive_once_after_an_outage_and_lost_replies(
    client: httpx.AsyncClient, producer: Producer
) -> None:
    tenant = await create_tenant(producer.client, "Outbox Co")
    await producer.drained(tenant.id)
    before = len(await ledger_entries(client, tenant.id))

    producer.link.state = "down"
    created = [await create_key(producer.client, tenant, name=f"k{i}") for i in range(4)]
    for key in created[:2]:
        revoked = await producer.client.delete(
            f"/api/v1/tenant/api-keys/{key['id']}", headers=tenant.headers
        )
        assert revoked.status_code == 200, revoked.text
    await asyncio.sleep(OUTAGE_SECONDS)
    assert producer.link.refused > 0
    assert await producer.pending(tenant.id) == 6
    assert len(await ledger_entries(client, tenant.id)) == before

    producer.link.state = "lossy"
    await producer.retry_now(tenant.id)
    await entries_reach(client, tenant.id, before + 6)  # all six written, every reply lost
    assert producer.link.lost > 0
    assert await producer.pending(tenant.id) == 6

    producer.link.state = "up"
    await producer.retry_now(tenant.id)
    await producer.drained(tenant.id)

    entries = await ledger_entries(client, tenant.id)
    new = [e for e in entries if e["seq"] > before]
    counted = Counter((e["event_type"], e["entity_id"]) for e in new)
    expected = Counter(
        [("ApiKeyCreated", key["id"]) for key in created]
        + [("ApiKeyRevoked", key["id"]) for key in created[:2]]
    )
    assert counted == expected
    assert all(e["entity_type"] == "API_KEY" for e in new)
    verify = await client.get("/api/v1/audit/verify", headers=admin(tenant.id))
    assert verify.json()["intact"] is True

    await producer.retry_now(tenant.id, redeliver=True)
    await producer.drained(tenant.id)
    assert len(await ledger_entries(client, tenant.id)) == len(entries)
