"""Budget alerts to the tenant's webhook: signed, once per threshold and period, retried and
finally marked failed without holding anything else back."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import orjson
from fastapi import FastAPI

from aos_cost_intel.alerts.relay import deliver_due, evaluate_all
from aos_cost_intel.alerts.signing import SIGNATURE_HEADER, verify

from .conftest import Receiver

App = tuple[FastAPI, httpx.AsyncClient]


async def setup(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    receiver: Receiver,
    path: str,
    **budget: object,
) -> tuple[str, str]:
    """Point the tenant's webhook at `path` of the receiver, create a budget; (secret, id)."""
    hook = await http.put(
        "/api/v1/cost/webhook", json={"url": receiver.url + path}, headers=headers
    )
    assert hook.status_code == 200, hook.text
    body = {"budget_type": "tenant", **budget}
    created = await http.post("/api/v1/cost/budgets", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return hook.json()["secret"], created.json()["id"]


async def spend(
    http: httpx.AsyncClient, headers: dict[str, str], cents: str, **extra: object
) -> None:
    response = await http.post(
        "/api/v1/cost/record", json={"model": "m", "cost_cents": cents, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text


async def test_each_threshold_fires_once_per_period_with_a_valid_signature(
    alerts_app: App, admin: dict[str, str], receiver: Receiver, tenant: str
) -> None:
    app, http = alerts_app
    path = f"/{tenant}/thresholds"
    secret, budget_id = await setup(http, admin, receiver, path, daily_limit_cents="100")
    fired = []
    for cents in ("55", "10", "20", "20"):  # 55, 65, 85, 105 % of the daily limit
        await spend(http, admin, cents)
        await evaluate_all(app)
        await evaluate_all(app)  # a second pass finds nothing new
        await deliver_due(app)
        fired.append(len(receiver.at(path)))
    assert fired == [1, 1, 2, 3]
    bodies = [orjson.loads(item.body) for item in receiver.at(path)]
    assert [b["threshold_pct"] for b in bodies] == [50, 80, 100]
    assert {(b["budget_id"], b["period"], b["event"]) for b in bodies} == {
        (budget_id, "daily", "budget.threshold_reached")
    }
    for item in receiver.at(path):
        assert verify(secret, item.headers[SIGNATURE_HEADER.lower()], item.body)
        assert not verify(secret + "x", item.headers[SIGNATURE_HEADER.lower()], item.body)
    alerts = (await http.get("/api/v1/cost/alerts", headers=admin)).json()["data"]
    assert sorted(a["threshold_pct"] for a in alerts) == [50, 80, 100]


async def test_user_and_feature_budgets_alert_too(
    alerts_app: App, admin: dict[str, str], receiver: Receiver, tenant: str
) -> None:
    app, http = alerts_app
    path = f"/{tenant}/dimensions"
    await setup(http, admin, receiver, path, daily_limit_cents="1000000")
    tag = await http.post(
        "/api/v1/cost/features", json={"tag": "search.query", "display_name": "S"}, headers=admin
    )
    assert tag.status_code == 201, tag.text
    for body in (
        {"budget_type": "user", "entity_id": "ana", "monthly_limit_cents": "10"},
        {"budget_type": "feature", "entity_id": "search.query", "weekly_limit_cents": "10"},
    ):
        assert (await http.post("/api/v1/cost/budgets", json=body, headers=admin)).is_success
    await spend(http, admin, "6", user_id="ana", feature_tag="search.query")
    await evaluate_all(app)
    await deliver_due(app)
    bodies = [orjson.loads(item.body) for item in receiver.at(path)]
    assert sorted((b["budget_type"], b["entity_id"], b["period"]) for b in bodies) == [
        ("feature", "search.query", "weekly"),
        ("user", "ana", "monthly"),
    ]


async def test_a_failing_receiver_is_retried_then_failed_without_holding_others_back(
    alerts_app: App, as_role, receiver: Receiver, tenant: str
) -> None:
    app, http = alerts_app
    failing, working = as_role("admin"), as_role("admin", tenant_id=tenant + "b")
    receiver.statuses[f"/{tenant}/down"] = 500
    await setup(http, failing, receiver, f"/{tenant}/down", daily_limit_cents="10")
    await setup(http, working, receiver, f"/{tenant}/up", daily_limit_cents="10")
    await spend(http, failing, "6")
    await spend(http, working, "6")
    await evaluate_all(app)
    await deliver_due(app)
    assert len(receiver.at(f"/{tenant}/up")) == 1  # delivered at the first pass
    for _ in range(20):
        await asyncio.sleep(0.1)
        await deliver_due(app)
    assert len(receiver.at(f"/{tenant}/down")) == 3
    log = (await http.get("/api/v1/cost/webhook/deliveries", headers=failing)).json()["data"]
    [entry] = log
    assert (entry["status"], entry["attempts"], entry["last_status"]) == ("failed", 3, 500)
    assert entry["last_error"] == "HTTP 500"
    delivered = (await http.get("/api/v1/cost/webhook/deliveries", headers=working)).json()
    assert [d["status"] for d in delivered["data"]] == ["delivered"]


async def test_an_alert_is_audited(
    alerts_app: App, admin: dict[str, str], receiver: Receiver, tenant: str, migrated_database: str
) -> None:
    app, http = alerts_app
    _, budget_id = await setup(http, admin, receiver, f"/{tenant}/audit", daily_limit_cents="10")
    await spend(http, admin, "5")
    await evaluate_all(app)
    connection = await asyncpg.connect(migrated_database)
    try:
        payloads = await connection.fetch(
            "SELECT payload FROM cost_intel.outbox WHERE payload->>'entity_id' = $1 "
            "AND payload->>'event_type' = 'BudgetThresholdReached'",
            budget_id,
        )
    finally:
        await connection.close()
    assert len(payloads) == 1
    assert "reached 50%: 5 of 10 cents" in payloads[0]["payload"]
