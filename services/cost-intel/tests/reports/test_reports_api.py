from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx


async def record(
    client: httpx.AsyncClient, headers: dict[str, str], cost: str, **extra: object
) -> None:
    response = await client.post(
        "/api/v1/cost/record", json={"model": "m", "cost_cents": cost, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def test_an_empty_summary_is_zero_with_provenance(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    summary = (await client.get("/api/v1/cost/summary", headers=admin)).json()
    assert summary["tenant_id"] == tenant
    assert (summary["total_cost_cents"], summary["request_count"], summary["budget_cents"]) == (
        "0",
        0,
        None,
    )
    assert summary["provenance"]["aggregation"] == "sum"
    assert summary["provenance"]["data_source"] == "cost_records"
    assert summary["provenance"]["period_description"] == "Last 24 hours"
    start = datetime.fromisoformat(summary["period_start"])
    assert start.minute == 0 and start.second == 0


async def test_summary_budget_is_the_daily_limit_times_days(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "daily_limit_cents": 100},
        headers=admin,
    )
    await record(client, admin, "25")
    await record(client, admin, "50", occurred_at=days_ago(3))
    day = (await client.get("/api/v1/cost/summary", params={"period": "24h"}, headers=admin)).json()
    week = (await client.get("/api/v1/cost/summary", params={"period": "7d"}, headers=admin)).json()
    assert (day["budget_cents"], day["budget_used_pct"], day["days_remaining_at_current_rate"]) == (
        "100",
        25.0,
        3.0,
    )
    assert (week["budget_cents"], week["total_cost_cents"], week["budget_used_pct"]) == (
        "700",
        "75",
        10.71,
    )
    assert week["days_remaining_at_current_rate"] == 58.33


async def test_by_user_flags_users_above_twice_the_mean(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for user, cost in (("big", "700"), ("a", "100"), ("b", "100"), (None, "100")):
        await record(client, admin, cost, user_id=user)
    body = (await client.get("/api/v1/cost/by-user", headers=admin)).json()
    rows = {row["user_id"]: row for row in body["data"]}
    assert body["data"][0]["user_id"] == "big"
    assert rows["big"]["is_anomaly"] is True
    assert rows["big"]["anomaly_message"] == "Spending 2.8x average"
    assert rows["big"]["pct_of_total"] == 70.0
    assert rows["anonymous"]["is_anomaly"] is False
    assert body["provenance"]["aggregation"] == "GROUP_BY:user"
    assert body["provenance"]["window"] == "24h"


async def test_by_feature_carries_display_names_and_feature_budgets(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tag = {"tag": "docs.search", "display_name": "Doc search", "budget_cents": 40}
    await client.post("/api/v1/cost/features", json=tag, headers=admin)
    await record(client, admin, "10", feature_tag="docs.search")
    await record(client, admin, "30")
    rows = (await client.get("/api/v1/cost/by-feature", headers=admin)).json()["data"]
    assert rows == [
        {
            "feature_tag": "unclassified",
            "display_name": None,
            "total_cost_cents": "30",
            "request_count": 1,
            "pct_of_total": 75.0,
            "budget_cents": None,
            "budget_used_pct": None,
        },
        {
            "feature_tag": "docs.search",
            "display_name": "Doc search",
            "total_cost_cents": "10",
            "request_count": 1,
            "pct_of_total": 25.0,
            "budget_cents": "40",
            "budget_used_pct": 25.0,
        },
    ]


async def test_by_model_reports_tokens(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 100,
        "cache_read_input_tokens": 50,
    }
    for _ in range(2):
        await client.post("/api/v1/cost/record", json=body, headers=admin)
    [row] = (await client.get("/api/v1/cost/by-model", headers=admin)).json()["data"]
    assert (
        row["model"],
        row["total_input_tokens"],
        row["total_output_tokens"],
        row["request_count"],
    ) == ("gpt-4o", 2000, 200, 2)
    assert (
        Decimal(row["total_cost_cents"])
        == 2 * (Decimal(1000) * 250 + 100 * 1000 + 50 * 125) / 10**6
    )


async def test_an_unknown_period_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for route in ("summary", "dashboard", "by-user", "by-feature", "by-model"):
        response = await client.get(f"/api/v1/cost/{route}", params={"period": "1y"}, headers=admin)
        assert response.status_code == 422, route


async def test_projection_follows_the_trend_rules(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for days, cost in ((6, "100"), (5, "100"), (4, "100"), (2, "300"), (1, "300"), (0, "300")):
        await record(client, admin, cost, occurred_at=days_ago(days))
    await client.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "monthly_limit_cents": 100000},
        headers=admin,
    )
    projection = (await client.get("/api/v1/cost/projection", headers=admin)).json()
    assert projection["trend"] == "increasing"
    assert projection["current_daily_avg_cents"] == "200"
    assert projection["projected_total_cents"] == "1400"
    assert projection["monthly_projection_cents"] == "6000"
    assert projection["budget_cents"] == "100000"
    assert projection["days_until_budget_exhausted"] is not None
    short = (
        await client.get("/api/v1/cost/projection", params={"lookback_days": 2}, headers=admin)
    ).json()
    assert short["trend"] == "stable"


async def test_projection_bounds_are_validated(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for params in (
        {"lookback_days": 0},
        {"lookback_days": 31},
        {"forecast_days": 0},
        {"forecast_days": 31},
    ):
        assert (
            await client.get("/api/v1/cost/projection", params=params, headers=admin)
        ).status_code == 422


async def test_the_dashboard_is_consistent_and_shows_every_anomaly_entity(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "user", "entity_id": "quiet", "monthly_limit_cents": 1},
        headers=admin,
    )
    # Spend of this month (the monthly budget's) that lies outside the 24 h window when the month
    # allows it; on the 1st of a month it cannot, and the window shows it too.
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    quiet_at = max(month_start + timedelta(seconds=1), now - timedelta(days=2))
    quiet_in_window = "5" if quiet_at > now - timedelta(hours=24) else "0"
    await record(client, admin, "5", user_id="quiet", occurred_at=quiet_at.isoformat())
    await record(client, admin, "7", user_id="loud")
    detected = (
        await client.post("/api/v1/cost/anomalies/detect", json={"escalate": False}, headers=admin)
    ).json()
    assert [a["entity_id"] for a in detected["anomalies"]] == ["quiet"]
    dashboard = (
        await client.get("/api/v1/cost/dashboard", params={"period": "24h"}, headers=admin)
    ).json()
    assert dashboard["consistency"]["violations"] == []
    assert dashboard["consistency"]["rules_checked"] == len(dashboard["consistency"]["rules"]) >= 11
    users = {row["user_id"]: row["total_cost_cents"] for row in dashboard["by_user"]}
    assert users == {"loud": "7", "quiet": quiet_in_window}
    assert [a["anomaly_type"] for a in dashboard["anomalies"]] == ["BUDGET_EXCEEDED"]
    assert dashboard["projection"]["lookback_days"] == 7
