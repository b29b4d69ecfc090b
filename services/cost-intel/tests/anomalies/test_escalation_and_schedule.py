"""Escalation reaches the audit ledger (through the outbox) and the alert webhook (a local HTTP
server started here); the scheduled detector runs on its own and respects the tenant lock."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request

from aos_common.state import service_state
from aos_common.testing import app_client, principal_headers
from aos_cost_intel.anomalies.repository import LOCK_NAMESPACE
from aos_cost_intel.anomalies.scheduler import sweep
from aos_cost_intel.main import create_app
from aos_cost_intel.settings import CostIntelSettings


class Webhook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


ledger_entries: list[dict[str, Any]] = []
ledger = FastAPI()


@ledger.post("/internal/v1/audit/entries", status_code=201)
async def write_entry(request: Request) -> dict[str, Any]:
    entry = await request.json()
    ledger_entries.append(entry)
    return entry


@pytest.fixture(scope="module")
def alerting_app(settings: CostIntelSettings, webhook: Webhook) -> FastAPI:
    configured = settings.model_copy(update={"alert_webhook": webhook.url})
    return create_app(configured, transports={"audit-ledger": httpx.ASGITransport(app=ledger)})


@pytest.fixture(scope="module")
async def alerting(alerting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(alerting_app) as http:
        yield http


async def seed_spike(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    from datetime import UTC, datetime, time, timedelta

    today = datetime.now(UTC).date()
    records = []
    for offset in range(-19, 1):
        moment = min(
            datetime.combine(today + timedelta(days=offset), time(0, 30), tzinfo=UTC),
            datetime.now(UTC) - timedelta(seconds=5),
        )
        cost = 300 if offset >= -1 else 100
        records.append(
            {"model": "m", "cost_cents": cost, "user_id": "ann", "occurred_at": moment.isoformat()}
        )
    response = await http.post(
        "/api/v1/cost/records/batch", json={"records": records}, headers=headers
    )
    assert response.status_code == 201


async def test_escalation_posts_the_webhook_and_the_outbox_reaches_the_ledger(
    alerting: httpx.AsyncClient, alerting_app: FastAPI, webhook: Webhook, tenant: str
) -> None:
    headers = principal_headers(tenant, roles=["admin"])
    await seed_spike(alerting, headers)
    result = (await alerting.post("/api/v1/cost/anomalies/detect", json={}, headers=headers)).json()
    assert result["escalated_count"] == 3
    assert {e["webhook"] for e in result["escalated"]} == {"scheduled"}
    [body] = [b for b in webhook.bodies if b["tenant_id"] == tenant]
    assert body["event"] == "cost.anomaly.escalated"
    assert {a["id"] for a in body["anomalies"]} == {a["id"] for a in result["anomalies"]}
    assert all(a["incident_id"] for a in body["anomalies"])
    for _ in range(50):  # the relay may already be delivering in the background (kicked)
        await service_state(alerting_app).outbox_relay.deliver_pending()
        mine = [e for e in ledger_entries if e["tenant_id"] == tenant]
        if len(mine) == len(result["escalated"]):
            break
        await asyncio.sleep(0.1)
    assert sorted(e["id"] for e in mine) == sorted(e["audit_entry_id"] for e in result["escalated"])
    assert {e["event_type"] for e in mine} == {"LimitBreached"}
    assert {e["entity_type"] for e in mine} == {"INCIDENT"}
    assert {e["entity_id"] for e in mine} == {a["incident_id"] for a in result["anomalies"]}


async def test_the_sweep_skips_a_tenant_another_instance_is_detecting(
    alerting: httpx.AsyncClient, alerting_app: FastAPI, migrated_database: str, tenant: str
) -> None:
    headers = principal_headers(tenant, roles=["admin"])
    await seed_spike(alerting, headers)
    holder = await asyncpg.connect(migrated_database)
    try:
        await holder.execute(
            "SELECT pg_advisory_lock(hashtextextended($1, 0))", LOCK_NAMESPACE + tenant
        )
        locked = await sweep(alerting_app)
        assert tenant in locked.tenants and tenant in locked.skipped_locked
        listed = (await alerting.get("/api/v1/cost/anomalies", headers=headers)).json()["data"]
        assert listed == []
    finally:
        await holder.close()
    unlocked = await sweep(alerting_app)
    assert tenant not in unlocked.skipped_locked
    listed = (await alerting.get("/api/v1/cost/anomalies", headers=headers)).json()["data"]
    assert len(listed) == 3


async def test_the_scheduled_detector_runs_by_itself(
    settings: CostIntelSettings, tenant: str
) -> None:
    headers = principal_headers(tenant, roles=["admin"])
    scheduled = settings.model_copy(update={"detector_interval_seconds": 0.2})
    async with app_client(create_app(scheduled)) as http:
        await seed_spike(http, headers)
        for _ in range(100):
            listed = (await http.get("/api/v1/cost/anomalies", headers=headers)).json()["data"]
            if listed:
                break
            await asyncio.sleep(0.1)
    assert {a["anomaly_type"] for a in listed} == {"ABSOLUTE_SPIKE"}
