from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

URL = "/api/v1/cost/record"


async def test_a_record_priced_from_the_book_answers_the_enveloped_result(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "input_tokens": 1000,
        "cache_read_input_tokens": 9000,
        "cache_creation_input_tokens": 100,
        "output_tokens": 500,
    }
    response = await client.post(URL, json=body, headers=admin)
    assert response.status_code == 201, response.text
    payload = response.json()
    assert payload["success"] is True
    assert payload["meta"]["request_id"].startswith("req-")
    data = payload["data"]
    assert data["id"].startswith("cr_")
    assert data["status"] == "recorded"
    expected = (
        Decimal(1000) * 300 + Decimal(9000) * 30 + Decimal(100) * 375 + Decimal(500) * 1500
    ) / 10**6
    assert Decimal(data["cost_cents"]) == expected
    assert data["price_version"] == "2025.11.0"


async def test_a_client_sent_cost_is_kept_exactly_and_has_no_price_version(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"model": "my-private-model", "cost_cents": "0.000000123456789"}
    data = (await client.post(URL, json=body, headers=admin)).json()["data"]
    assert data["cost_cents"] == "0.000000123456789"
    assert data["price_version"] is None


async def test_an_unknown_model_without_cost_is_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(URL, json={"model": "mystery-1", "input_tokens": 5}, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"] == "No price known for model 'mystery-1'; send cost_cents"


async def test_a_repeated_request_id_is_the_same_record(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"model": "gpt-4o", "input_tokens": 10, "request_id": "req-same-1"}
    first = await client.post(URL, json=body, headers=admin)
    second = await client.post(URL, json={**body, "input_tokens": 99999}, headers=admin)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["data"]["id"] == first.json()["data"]["id"]
    assert second.json()["data"]["cost_cents"] == first.json()["data"]["cost_cents"]
    assert second.json()["data"]["duplicate"] is True
    summary = (await client.get("/api/v1/cost/summary", headers=admin)).json()
    assert summary["request_count"] == 1


async def test_the_same_request_id_in_two_tenants_is_two_records(
    client: httpx.AsyncClient, as_role
) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "gpt-4o", "input_tokens": 10, "request_id": "shared-id"}
    one = await client.post(
        URL, json=body, headers=as_role("admin", tenant_id="tnt_a000000000000001")
    )
    two = await client.post(
        URL, json=body, headers=as_role("admin", tenant_id="tnt_b000000000000002")
    )
    assert one.json()["data"]["id"] != two.json()["data"]["id"]


async def test_an_unknown_or_inactive_feature_is_stored_as_unclassified(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/cost/features", json={"tag": "kn.own", "display_name": "k"}, headers=admin
    )
    await client.post(
        "/api/v1/cost/features", json={"tag": "old.one", "display_name": "o"}, headers=admin
    )
    await client.put("/api/v1/cost/features/old.one", json={"is_active": False}, headers=admin)
    for tag in ("kn.own", "nope.never", "old.one", None):
        await client.post(
            URL, json={"model": "x", "cost_cents": 1, "feature_tag": tag}, headers=admin
        )
    rows = (await client.get("/api/v1/cost/by-feature", headers=admin)).json()["data"]
    assert {r["feature_tag"]: r["request_count"] for r in rows} == {"unclassified": 3, "kn.own": 1}


async def test_occurred_at_places_a_record_in_the_past(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    then = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    await client.post(URL, json={"model": "x", "cost_cents": 7, "occurred_at": then}, headers=admin)
    day = (await client.get("/api/v1/cost/summary", params={"period": "24h"}, headers=admin)).json()
    week = (await client.get("/api/v1/cost/summary", params={"period": "7d"}, headers=admin)).json()
    assert (day["total_cost_cents"], week["total_cost_cents"]) == ("0", "7")


async def test_occurred_at_in_the_future_is_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await client.post(
        URL, json={"model": "x", "cost_cents": 1, "occurred_at": later}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "occurred_at must not be in the future"


async def test_occurred_at_too_old_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    old = (datetime.now(UTC) - timedelta(days=401)).isoformat()
    response = await client.post(
        URL, json={"model": "x", "cost_cents": 1, "occurred_at": old}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "occurred_at must be within the last 400 days"


async def test_bad_input_is_422_never_500(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    bad_bodies = [
        {},
        {"model": ""},
        {"model": "x", "input_tokens": -1},
        {"model": "x", "cost_cents": "-1"},
        {"model": "x", "cost_cents": "NaN"},
        {"model": "x", "cost_cents": "1e400"},
        {"model": "x", "cost_cents": "0.000000000000000000001"},
        {"model": "nul\u0000byte", "cost_cents": 1},
        {"model": "x" * 201, "cost_cents": 1},
        {"model": "x", "input_tokens": 10**13},
        {"model": "x", "occurred_at": "yesterday"},
    ]
    for body in bad_bodies:
        response = await client.post(URL, json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"], body
