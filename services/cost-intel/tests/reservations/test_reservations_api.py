"""Reservations in-process: authorize, settle, release, idempotency, errors, overshoot."""

from __future__ import annotations

import httpx

URL = "/api/v1/cost/reservations"


async def hard_budget(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> str:
    body = {"budget_type": "tenant", "hard_limit_enabled": True, **body}
    response = await client.post("/api/v1/cost/budgets", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def reserve(
    client: httpx.AsyncClient, headers: dict[str, str], cents: str, **extra: object
) -> httpx.Response:
    return await client.post(URL, json={"estimated_cost_cents": cents, **extra}, headers=headers)


async def budget_state(client: httpx.AsyncClient, headers: dict[str, str], budget_id: str) -> dict:
    budgets = (await client.get("/api/v1/cost/budgets", headers=headers)).json()
    return next(b for b in budgets if b["id"] == budget_id)


async def test_a_reservation_within_the_budget_is_held(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    response = await reserve(client, admin, "30", model="gpt-4o", run_id="run_1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "held" and body["held_cents"] == "30"
    assert body["id"].startswith("res_") and body["run_id"] == "run_1"
    assert body["budgets"] == [{"budget_id": budget_id, "remaining_cents": "70"}]
    assert (await budget_state(client, admin, budget_id))["held_cents"] == "30"


async def test_a_reservation_beyond_the_budget_is_402_naming_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    assert (await reserve(client, admin, "60")).status_code == 201
    refused = await reserve(client, admin, "40.01")
    assert refused.status_code == 402
    problem = refused.json()
    assert problem["detail"] == (
        f"Budget would be exceeded: {budget_id} (Daily limit, 40 cents remaining, 40.01 requested)"
    )
    assert (problem["budget_id"], problem["remaining_cents"]) == (budget_id, "40")


async def test_settling_records_the_actual_cost_and_takes_the_hold_off(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    held = (await reserve(client, admin, "50", user_id="ana")).json()
    response = await client.post(
        f"{URL}/{held['id']}/settle", json={"actual_cost_cents": "20.5"}, headers=admin
    )
    assert response.status_code == 200, response.text
    settled = response.json()
    assert (settled["status"], settled["charged_cents"]) == ("settled", "20.5")
    assert settled["overshoot_cents"] == "0" and settled["anomaly_id"] is None
    assert settled["budgets"] == [{"budget_id": budget_id, "remaining_cents": "79.5"}]
    state = await budget_state(client, admin, budget_id)
    assert (state["held_cents"], state["current_daily_spend_cents"]) == ("0", "20.5")


async def test_settling_with_records_prices_them_like_every_record(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await hard_budget(client, admin, daily_limit_cents="1000")
    held = (await reserve(client, admin, "500")).json()
    records = [{"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100}]
    settled = (
        await client.post(f"{URL}/{held['id']}/settle", json={"records": records}, headers=admin)
    ).json()
    priced = (await client.post("/api/v1/cost/record", json=records[0], headers=admin)).json()[
        "data"
    ]
    assert settled["charged_cents"] == priced["cost_cents"]
    assert settled["records"][0]["price_version"] == priced["price_version"] is not None


async def test_releasing_takes_the_hold_off_without_a_charge(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    held = (await reserve(client, admin, "100")).json()
    assert (await reserve(client, admin, "1")).status_code == 402
    released = await client.post(f"{URL}/{held['id']}/release", headers=admin)
    assert released.status_code == 200 and released.json()["status"] == "released"
    state = await budget_state(client, admin, budget_id)
    assert (state["held_cents"], state["current_daily_spend_cents"]) == ("0", "0")
    assert (await reserve(client, admin, "100")).status_code == 201


async def test_settling_after_release_is_409_saying_so(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    held = (await reserve(client, admin, "10")).json()
    await client.post(f"{URL}/{held['id']}/release", headers=admin)
    response = await client.post(
        f"{URL}/{held['id']}/settle", json={"actual_cost_cents": "5"}, headers=admin
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith(f"Reservation {held['id']} was released at ")
    assert detail.endswith("without a charge; it can no longer be settled")


async def test_settling_twice_is_409(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    held = (await reserve(client, admin, "10")).json()
    body = {"actual_cost_cents": "5"}
    assert (await client.post(f"{URL}/{held['id']}/settle", json=body, headers=admin)).is_success
    again = await client.post(f"{URL}/{held['id']}/settle", json=body, headers=admin)
    assert again.status_code == 409
    assert "was already settled" in again.json()["detail"]


async def test_an_idempotency_key_replays_each_of_the_three_calls(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await hard_budget(client, admin, daily_limit_cents="100")
    headers = {**admin, "Idempotency-Key": "reserve-1"}
    first = await reserve(client, headers, "40")
    second = await reserve(client, headers, "40")
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    rid = first.json()["id"]
    settle_headers = {**admin, "Idempotency-Key": "settle-1"}
    body = {"actual_cost_cents": "30"}
    settled = await client.post(f"{URL}/{rid}/settle", json=body, headers=settle_headers)
    replayed = await client.post(f"{URL}/{rid}/settle", json=body, headers=settle_headers)
    assert replayed.status_code == 200 and replayed.json() == settled.json()
    other = (await reserve(client, admin, "10")).json()["id"]
    release_headers = {**admin, "Idempotency-Key": "release-1"}
    released = await client.post(f"{URL}/{other}/release", headers=release_headers)
    again = await client.post(f"{URL}/{other}/release", headers=release_headers)
    assert again.status_code == 200 and again.json() == released.json()
    assert (await budget_state(client, admin, first.json()["budgets"][0]["budget_id"]))[
        "current_daily_spend_cents"
    ] == "30"


async def test_settling_above_the_hold_records_in_full_and_reports_an_anomaly(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    held = (await reserve(client, admin, "10")).json()
    settled = (
        await client.post(
            f"{URL}/{held['id']}/settle", json={"actual_cost_cents": "25"}, headers=admin
        )
    ).json()
    assert (settled["charged_cents"], settled["overshoot_cents"]) == ("25", "15")
    assert (await budget_state(client, admin, budget_id))["current_daily_spend_cents"] == "25"
    anomalies = (await client.get("/api/v1/cost/anomalies", headers=admin)).json()["data"]
    [anomaly] = [a for a in anomalies if a["id"] == settled["anomaly_id"]]
    assert anomaly["anomaly_type"] == "RESERVATION_OVERSHOOT"
    assert anomaly["derived_cause"] == "ESTIMATE_TOO_LOW"
    assert anomaly["entity_id"] == held["id"]
    assert "25 cents, 15 over its hold of 10 cents" in anomaly["message"]


async def test_holds_count_in_the_guard(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    await reserve(client, admin, "95")
    verdict = (
        await client.post("/api/v1/cost/guard", json={"estimated_cost_cents": "10"}, headers=admin)
    ).json()
    assert (verdict["allowed"], verdict["budget_id"]) == (False, budget_id)


async def test_a_ttl_above_an_hour_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await reserve(client, admin, "1", ttl_seconds=3601)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "ttl_seconds"


async def test_settle_needs_records_or_an_actual_cost_not_both(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    held = (await reserve(client, admin, "1")).json()
    both = {"actual_cost_cents": "1", "records": [{"model": "m", "cost_cents": "1"}]}
    response = await client.post(f"{URL}/{held['id']}/settle", json=both, headers=admin)
    assert response.status_code == 422
    assert "send either records or actual_cost_cents" in response.text


async def test_another_tenants_reservation_is_not_found(
    client: httpx.AsyncClient, admin: dict[str, str], as_role
) -> None:
    held = (await reserve(client, admin, "1")).json()
    stranger = as_role("admin", tenant_id="tnt_someoneelse00")
    response = await client.post(f"{URL}/{held['id']}/release", headers=stranger)
    assert response.status_code == 404
    assert response.json()["detail"] == "Reservation not found"
