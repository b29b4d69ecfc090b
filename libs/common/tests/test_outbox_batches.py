"""The outbox relay delivering in batches to the REAL receivers (cost-intel, audit-ledger apps on
real Postgres): many messages per call, a refused message alone kept back, accepted ones never
sent twice, and the lag as Prometheus gauges."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_audit_ledger.main import create_app as create_ledger_app
from aos_audit_ledger.settings import AuditLedgerSettings
from aos_common.db import create_engine, create_sessionmaker
from aos_common.http_client import ServiceClient
from aos_common.metrics import Metrics
from aos_common.outbox import OutboxRelay, enqueue
from aos_common.outbox_batch import BATCH_ROUTES
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET
from aos_common.testing import (
    app_client,
    create_database,
    drop_database,
    migrate,
    principal_headers,
)
from aos_cost_intel.main import create_app as create_cost_app
from aos_cost_intel.settings import CostIntelSettings
from aos_tenants.models import outbox

COST_PATH = "/internal/v1/cost/records"
AUDIT_PATH = "/internal/v1/audit/entries"


class CountingLink(httpx.AsyncBaseTransport):
    """The network to a real receiver app, remembering each call's path and message count."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(await request.aread())
        size = len(body["messages"]) if "messages" in body else 1
        self.calls.append((request.url.path, size))
        return await self.inner.handle_async_request(request)


@dataclass
class Receivers:
    cost: httpx.AsyncClient
    ledger: httpx.AsyncClient
    links: dict[str, CountingLink]
    sessionmaker: async_sessionmaker[AsyncSession]

    def relay(
        self,
        metrics: Metrics | None = None,
        batch_routes: dict[Any, str] | None = None,
        links: dict[str, httpx.AsyncBaseTransport] | None = None,
    ) -> OutboxRelay:
        client = ServiceClient(
            service_name="producer",
            base_urls={"cost-intel": "http://cost", "audit-ledger": "http://ledger"},
            internal_secret=DEVELOPMENT_INTERNAL_SECRET,
            transports=self.links if links is None else links,
        )
        return OutboxRelay(
            sessionmaker=self.sessionmaker,
            table=outbox,
            client=client,
            metrics=metrics,
            batch_routes=BATCH_ROUTES if batch_routes is None else batch_routes,
        )


@pytest.fixture(scope="module")
def platform_database(postgres_server_url: str) -> Iterator[str]:
    """A database of its own: no other test's relay drains this outbox."""
    url = create_database(postgres_server_url, prefix="aos_relay")
    for package in ("aos_tenants", "aos_cost_intel", "aos_audit_ledger"):
        migrate(package, url)
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
async def receivers(
    platform_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Receivers]:
    common: dict[str, Any] = {
        "database_url": platform_database,
        "redis_url": redis_url,
        "environment": "test",
        "telemetry_enabled": False,
        "outbox_interval_seconds": 3600,
    }
    cost_app = create_cost_app(CostIntelSettings(**common, detector_interval_seconds=0))
    data_dir = Path(tmp_path_factory.mktemp("ledger"))
    ledger_app = create_ledger_app(AuditLedgerSettings(**common, data_dir=str(data_dir)))
    engine = create_engine(platform_database, application_name="relay-test")
    async with app_client(cost_app) as cost, app_client(ledger_app) as ledger:
        links = {
            "cost-intel": CountingLink(httpx.ASGITransport(app=cost_app)),
            "audit-ledger": CountingLink(httpx.ASGITransport(app=ledger_app)),
        }
        yield Receivers(cost, ledger, links, create_sessionmaker(engine))
    await engine.dispose()


async def put(receivers: Receivers, messages: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Commit (destination, path, payload) messages to the producer's outbox; their ids."""
    ids = []
    async with receivers.sessionmaker() as session, session.begin():
        for destination, path, payload in messages:
            ids.append(
                await enqueue(session, outbox, destination=destination, path=path, payload=payload)
            )
    return ids


async def drain(relay: OutboxRelay) -> None:
    while await relay.deliver_pending():
        pass


async def rows(receivers: Receivers, ids: list[str]) -> dict[str, tuple[int, bool, str | None]]:
    """id → (attempts, delivered, last_error)."""
    async with receivers.sessionmaker() as session:
        result = await session.execute(
            text(
                "SELECT id, attempts, delivered_at IS NOT NULL, last_error "
                "FROM tenants.outbox WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        return {row[0]: (row[1], row[2], row[3]) for row in result}


async def make_due(receivers: Receivers, ids: list[str]) -> None:
    async with receivers.sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE tenants.outbox SET next_attempt_at = now() WHERE id = ANY(:ids)"),
            {"ids": ids},
        )


def cost(tenant: str, index: int, **overrides: Any) -> tuple[str, str, dict[str, Any]]:
    record = {
        "tenant_id": tenant,
        "request_id": f"trace_x:{index}",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 10,
        **overrides,
    }
    return ("cost-intel", COST_PATH, record)


async def request_count(receivers: Receivers, tenant: str) -> int:
    response = await receivers.cost.get(
        "/api/v1/cost/summary", params={"period": "7d"}, headers=principal_headers(tenant)
    )
    assert response.status_code == 200, response.text
    return int(response.json()["request_count"])


async def test_cost_records_travel_a_thousand_per_call(receivers: Receivers) -> None:
    tenant = "tnt_" + secrets.token_hex(6)
    link = receivers.links["cost-intel"]
    link.calls.clear()
    await put(receivers, [cost(tenant, i) for i in range(2500)])
    await drain(receivers.relay())
    assert sorted(link.calls) == [(COST_PATH + "/batch", 500)] + [(COST_PATH + "/batch", 1000)] * 2
    assert await request_count(receivers, tenant) == 2500


async def test_a_refused_record_is_kept_back_and_its_batch_neighbours_are_not_sent_again(
    receivers: Receivers,
) -> None:
    tenant = "tnt_" + secrets.token_hex(6)
    link = receivers.links["cost-intel"]
    messages = [cost(tenant, i) for i in range(50)]
    messages[7] = cost(tenant, 7, model="no-such-model")
    messages[30] = cost(tenant, 30, input_tokens=-5)
    ids = await put(receivers, messages)
    relay = receivers.relay()
    await drain(relay)
    state = await rows(receivers, ids)
    refused = {ids[7], ids[30]}
    assert all(state[i] == (1, True, None) for i in ids if i not in refused)
    assert not state[ids[7]][1] and "No price known for model 'no-such-model'" in str(
        state[ids[7]][2]
    )
    assert not state[ids[30]][1] and "input_tokens" in str(state[ids[30]][2])
    assert await request_count(receivers, tenant) == 48

    link.calls.clear()
    await make_due(receivers, ids)  # every one of them due again: only the refused are pending
    await drain(relay)
    assert link.calls == [(COST_PATH + "/batch", 2)]
    assert await request_count(receivers, tenant) == 48


async def test_a_redelivered_batch_stores_nothing_twice(receivers: Receivers) -> None:
    tenant = "tnt_" + secrets.token_hex(6)
    ids = await put(receivers, [cost(tenant, i, request_id=None) for i in range(20)])
    relay = receivers.relay()
    await drain(relay)
    async with receivers.sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE tenants.outbox SET delivered_at = NULL WHERE id = ANY(:ids)"), {"ids": ids}
        )
    await drain(relay)
    assert await request_count(receivers, tenant) == 20
    assert all(
        attempts == 2 and delivered
        for attempts, delivered, _ in (await rows(receivers, ids)).values()
    )


def audit(
    tenant: str, entity: str, event_type: str = "ApiKeyCreated"
) -> tuple[str, str, dict[str, Any]]:
    entry = {
        "tenant_id": tenant,
        "event_type": event_type,
        "entity_type": "API_KEY",
        "entity_id": entity,
        "actor_type": "SYSTEM",
        "actor_id": "system",
    }
    return ("audit-ledger", AUDIT_PATH, entry)


async def ledger_entities(receivers: Receivers, tenant: str) -> list[str]:
    response = await receivers.ledger.get(
        "/api/v1/audit/entries", params={"limit": 500}, headers=principal_headers(tenant)
    )
    assert response.status_code == 200, response.text
    return [entry["entity_id"] for entry in sorted(response.json()["data"], key=lambda e: e["seq"])]


async def test_audit_entries_of_several_tenants_arrive_in_one_call_each_in_order(
    receivers: Receivers,
) -> None:
    first, second = "tnt_" + secrets.token_hex(6), "tnt_" + secrets.token_hex(6)
    link = receivers.links["audit-ledger"]
    link.calls.clear()
    messages = [audit(first if i % 2 else second, f"key_{i}") for i in range(10)]
    messages[4] = audit(second, "key_4", event_type="NotAnEvent")
    ids = await put(receivers, messages)
    await drain(receivers.relay())
    assert link.calls == [(AUDIT_PATH + "/batch", 10)]
    assert await ledger_entities(receivers, first) == [f"key_{i}" for i in (1, 3, 5, 7, 9)]
    assert await ledger_entities(receivers, second) == [f"key_{i}" for i in (0, 2, 6, 8)]
    state = await rows(receivers, ids)
    assert not state[ids[4]][1] and "event_type" in str(state[ids[4]][2])
    for tenant in (first, second):
        verify = await receivers.ledger.get(
            "/api/v1/audit/verify", headers=principal_headers(tenant)
        )
        assert verify.json()["intact"] is True


async def test_the_lag_gauges_show_what_waits_and_for_how_long(receivers: Receivers) -> None:
    metrics = Metrics("producer")
    relay = receivers.relay(metrics)
    tenant = "tnt_" + secrets.token_hex(6)
    await drain(relay)  # what earlier tests left due
    await put(receivers, [cost(tenant, 0, model="no-such-model"), cost(tenant, 1)])
    await drain(relay)
    async with receivers.sessionmaker() as session:
        waiting, oldest = (
            await session.execute(
                text(
                    "SELECT count(*), extract(epoch FROM now() - min(created_at)) "
                    "FROM tenants.outbox WHERE delivered_at IS NULL AND destination = 'cost-intel'"
                )
            )
        ).one()
    await relay.refresh_lag()
    labels = {"service": "producer", "destination": "cost-intel"}
    sample = metrics.registry.get_sample_value
    assert sample("aos_outbox_pending_messages", labels) == waiting >= 1
    assert (sample("aos_outbox_oldest_pending_age_seconds", labels) or 0) >= float(oldest) > 0
    outcomes = {**labels, "outcome": "refused"}
    assert sample("aos_outbox_messages_total", outcomes) == 1
    assert (sample("aos_outbox_messages_total", {**labels, "outcome": "delivered"}) or 0) >= 1


async def test_a_receiver_without_the_batch_route_gets_one_call_per_message(
    receivers: Receivers,
) -> None:
    tenant = "tnt_" + secrets.token_hex(6)
    link = receivers.links["cost-intel"]
    link.calls.clear()
    await put(receivers, [cost(tenant, i) for i in range(3)])
    relay = receivers.relay(
        batch_routes={("cost-intel", COST_PATH): COST_PATH + "/not-deployed-yet"}
    )
    await drain(relay)
    assert link.calls == [(COST_PATH + "/not-deployed-yet", 3)] + [(COST_PATH, 1)] * 3
    assert await request_count(receivers, tenant) == 3


class HeldLink(httpx.AsyncBaseTransport):
    """A receiver whose first call waits until released: a delivery stuck on a slow peer."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls = 0
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 1:
            self.holding.set()
            await self.release.wait()
        return await self.inner.handle_async_request(request)


async def eventually(check: Any, seconds: float = 20.0) -> None:
    """Poll the receiver's state (it is in the database, no event says when it changes)."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not so after {seconds} s")


async def test_cost_records_travel_while_another_delivery_waits_on_its_receiver(
    receivers: Receivers,
) -> None:
    await drain(receivers.relay())
    first, second = "tnt_" + secrets.token_hex(6), "tnt_" + secrets.token_hex(6)
    held = HeldLink(receivers.links["cost-intel"])
    relay = receivers.relay(links={**receivers.links, "cost-intel": held})
    await put(receivers, [cost(first, i) for i in range(10)])
    relay.start()
    try:
        await asyncio.wait_for(held.holding.wait(), 20)
        await put(receivers, [cost(second, i) for i in range(10)])
        relay.kick()
        await eventually(lambda: _counted(receivers, second, 10))
        assert await request_count(receivers, first) == 0  # still held
        held.release.set()
        await eventually(lambda: _counted(receivers, first, 10))
    finally:
        held.release.set()
        await relay.stop()


async def test_audit_entries_wait_for_the_delivery_before_them_whatever_else_travels(
    receivers: Receivers,
) -> None:
    await drain(receivers.relay())
    tenant = "tnt_" + secrets.token_hex(6)
    held = HeldLink(receivers.links["audit-ledger"])
    relay = receivers.relay(links={**receivers.links, "audit-ledger": held})
    await put(receivers, [audit(tenant, "key_0")])
    relay.start()
    try:
        await asyncio.wait_for(held.holding.wait(), 20)
        await put(receivers, [audit(tenant, "key_1"), cost(tenant, 0)])
        relay.kick()
        await eventually(lambda: _counted(receivers, tenant, 1))
        assert held.calls == 1  # key_1 was left for the pass after key_0's
        held.release.set()
        await eventually(lambda: _entities_are(receivers, tenant, ["key_0", "key_1"]))
    finally:
        held.release.set()
        await relay.stop()


async def _counted(receivers: Receivers, tenant: str, expected: int) -> bool:
    return await request_count(receivers, tenant) == expected


async def _entities_are(receivers: Receivers, tenant: str, expected: list[str]) -> bool:
    return await ledger_entities(receivers, tenant) == expected
