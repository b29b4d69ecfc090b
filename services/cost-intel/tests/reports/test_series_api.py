"""GET /api/v1/cost/series: spend per day (or hour) per model or feature, for stacked charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx


async def _record(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> None:
    response = await client.post("/api/v1/cost/record", json=body, headers=headers)
    assert response.status_code == 201, response.text


async def test_daily_series_splits_spend_by_model_per_day(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    two_days_ago = (now - timedelta(days=2)).replace(hour=12)
    await _record(client, admin, model="a", cost_cents="1.25", occurred_at=two_days_ago.isoformat())
    await _record(client, admin, model="a", cost_cents="0.75", occurred_at=two_days_ago.isoformat())
    await _record(client, admin, model="b", cost_cents="3", occurred_at=two_days_ago.isoformat())
    body = (await client.get("/api/v1/cost/series?period=7d", headers=admin)).json()
    assert (body["group_by"], body["grain"]) == ("model", "day")
    day = two_days_ago.date().isoformat()
    points = {(p["bucket"][:10], p["key"]): Decimal(p["cost_cents"]) for p in body["data"]}
    assert points == {(day, "a"): Decimal("2.00"), (day, "b"): Decimal("3")}
    assert body["provenance"]["window"] == "7d"


async def test_hourly_series_by_feature_for_24h(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    moment = datetime.now(UTC) - timedelta(hours=3)
    tag = {"tag": "support.chat", "display_name": "Chat"}
    assert (await client.post("/api/v1/cost/features", json=tag, headers=admin)).status_code < 300
    await _record(
        client,
        admin,
        model="a",
        cost_cents="2",
        feature_tag="support.chat",
        occurred_at=moment.isoformat(),
    )
    body = (await client.get("/api/v1/cost/series?group_by=feature", headers=admin)).json()
    assert body["grain"] == "hour"
    [point] = body["data"]
    assert point["key"] == "support.chat"
    assert datetime.fromisoformat(point["bucket"]) == moment.replace(
        minute=0, second=0, microsecond=0
    )


async def test_unknown_grouping_is_a_clear_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get("/api/v1/cost/series?group_by=colour", headers=admin)
    assert response.status_code == 422
    assert "group_by" in response.text
