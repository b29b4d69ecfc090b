import httpx
import pytest
from sqlalchemy import select

from aos_common.state import service_state
from aos_cost_intel.models import outbox

DETECT = "/api/v1/cost/anomalies/detect"


async def outbox_events(client: httpx.AsyncClient, tenant: str) -> list[dict[str, object]]:
    state = service_state(client._transport.app)  # type: ignore[attr-defined]
    async with state.sessionmaker() as session:
        rows = await session.scalars(
            select(outbox.c.payload).where(outbox.c.payload["tenant_id"].astext == tenant)
        )
        return list(rows.all())


async def test_a_flat_history_detects_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], seed_history
) -> None:  # type: ignore[no-untyped-def]
    await seed_history()
    result = (await client.post(DETECT, json={}, headers=admin)).json()
    assert result == {"detected_count": 0, "escalated_count": 0, "anomalies": [], "escalated": []}


async def test_a_two_day_spike_is_detected_escalated_and_audited(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    tenant: str,
    seed_history,  # type: ignore[no-untyped-def]
) -> None:
    await seed_history(by_offset={-1: 300, 0: 300}, requests_per_day=2)
    response = await client.post(DETECT, json={"escalate": True}, headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()
    spikes = {(a["entity_type"], a["entity_id"]): a for a in result["anomalies"]}
    assert set(spikes) == {("tenant", tenant), ("user", "alice"), ("feature", "unclassified")}
    spike = spikes[("user", "alice")]
    assert (spike["anomaly_type"], spike["severity"], spike["derived_cause"]) == (
        "ABSOLUTE_SPIKE",
        "HIGH",
        "UNKNOWN",
    )
    assert (
        spike["current_value_cents"],
        spike["expected_value_cents"],
        spike["deviation_pct"],
    ) == ("300", "100", 200.0)
    assert spike["id"].startswith("ca_")
    assert spike["incident_id"].startswith("inc_")
    assert "LimitBreached" in spike["action_taken"]
    assert result["escalated_count"] == 3
    assert {e["webhook"] for e in result["escalated"]} == {"not_configured"}
    events = await outbox_events(client, tenant)
    assert [e["event_type"] for e in events] == ["LimitBreached"] * 3
    assert {e["id"] for e in events} == {e["audit_entry_id"] for e in result["escalated"]}


async def test_detection_is_one_anomaly_per_type_entity_and_day(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    seed_history,  # type: ignore[no-untyped-def]
) -> None:
    await seed_history(by_offset={-1: 300, 0: 300})
    first = (await client.post(DETECT, json={"escalate": False}, headers=admin)).json()
    second = (await client.post(DETECT, json={"escalate": False}, headers=admin)).json()
    assert first["detected_count"] == 3 and second["detected_count"] == 0
    listed = (await client.get("/api/v1/cost/anomalies", headers=admin)).json()
    assert len(listed["data"]) == 3
    assert listed["provenance"]["aggregation"] == "DETECT:anomaly"


async def test_a_one_day_spike_is_not_an_anomaly(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    seed_history,  # type: ignore[no-untyped-def]
) -> None:
    await seed_history(by_offset={0: 500})
    assert (await client.post(DETECT, json={}, headers=admin)).json()["detected_count"] == 0


async def test_traffic_growth_is_named_as_the_cause(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    seed_history,  # type: ignore[no-untyped-def]
) -> None:
    await seed_history(days=20, by_offset={})
    await seed_history(days=2, flat=200, requests_per_day=4)
    result = (await client.post(DETECT, json={"escalate": False}, headers=admin)).json()
    causes = {a["entity_type"]: a["derived_cause"] for a in result["anomalies"]}
    assert causes == {
        "tenant": "TRAFFIC_GROWTH",
        "user": "TRAFFIC_GROWTH",
        "feature": "TRAFFIC_GROWTH",
    }


async def test_budget_anomalies_follow_the_thresholds(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "daily_limit_cents": 100},
        headers=admin,
    )
    await client.post(
        "/api/v1/cost/budgets",
        json={
            "budget_type": "user",
            "entity_id": "zed",
            "daily_limit_cents": 10,
            "warn_threshold_pct": 50,
        },
        headers=admin,
    )
    await client.post("/api/v1/cost/record", json={"model": "m", "cost_cents": 85}, headers=admin)
    await client.post(
        "/api/v1/cost/record", json={"model": "m", "cost_cents": 6, "user_id": "zed"}, headers=admin
    )
    result = (await client.post(DETECT, json={"escalate": True}, headers=admin)).json()
    found = {(a["anomaly_type"], a["entity_type"], a["severity"]) for a in result["anomalies"]}
    assert found == {
        ("BUDGET_WARNING", "tenant", "HIGH"),
        ("BUDGET_WARNING", "user", "MEDIUM"),
    }
    assert result["escalated_count"] == 1


@pytest.mark.parametrize("days", [0, 91])
async def test_the_anomaly_window_is_bounded(
    client: httpx.AsyncClient, admin: dict[str, str], days: int
) -> None:
    response = await client.get("/api/v1/cost/anomalies", params={"days": days}, headers=admin)
    assert response.status_code == 422


async def test_resolving_hides_an_anomaly_unless_resolved_ones_are_asked_for(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    seed_history,  # type: ignore[no-untyped-def]
) -> None:
    await seed_history(by_offset={-1: 300, 0: 300})
    anomaly = (await client.post(DETECT, json={"escalate": False}, headers=admin)).json()[
        "anomalies"
    ][0]
    response = await client.post(f"/api/v1/cost/anomalies/{anomaly['id']}/resolve", headers=admin)
    assert response.status_code == 200
    assert response.json()["resolved"] is True
    open_ids = [
        a["id"] for a in (await client.get("/api/v1/cost/anomalies", headers=admin)).json()["data"]
    ]
    every = (
        await client.get(
            "/api/v1/cost/anomalies", params={"include_resolved": "true"}, headers=admin
        )
    ).json()
    assert anomaly["id"] not in open_ids
    assert anomaly["id"] in [a["id"] for a in every["data"]]


async def test_resolving_an_unknown_anomaly_is_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/cost/anomalies/ca_0000000000000000/resolve", headers=admin
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Anomaly ca_0000000000000000 not found"


async def test_another_tenants_anomaly_cannot_be_resolved(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    as_role,
    seed_history,  # type: ignore[no-untyped-def]
) -> None:
    await seed_history(by_offset={-1: 300, 0: 300})
    anomaly = (await client.post(DETECT, json={"escalate": False}, headers=admin)).json()[
        "anomalies"
    ][0]
    other = as_role("admin", tenant_id="tnt_ffffffffffffffff")
    response = await client.post(f"/api/v1/cost/anomalies/{anomaly['id']}/resolve", headers=other)
    assert response.status_code == 404


async def test_detect_without_a_body_escalates_by_default(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(DETECT, headers=admin)
    assert response.status_code == 200
    assert response.json()["detected_count"] == 0


async def test_viewers_cannot_run_detection(client: httpx.AsyncClient, as_role) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(DETECT, json={}, headers=as_role("viewer"))
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission cost:write"
