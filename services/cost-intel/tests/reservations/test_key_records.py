"""Costs recorded directly with an API key (no reservation) count toward that key's budget."""

from __future__ import annotations

import httpx

from .conftest import signed

KEY = "key_direct"


async def key_budget(client: httpx.AsyncClient, admin: dict[str, str], limit: str) -> str:
    body = {
        "budget_type": "api_key",
        "entity_id": KEY,
        "hard_limit_enabled": True,
        "daily_limit_cents": limit,
    }
    response = await client.post("/api/v1/cost/budgets", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def key_spend(client: httpx.AsyncClient, admin: dict[str, str], budget_id: str) -> str:
    budgets = (await client.get("/api/v1/cost/budgets", headers=admin)).json()
    return str(next(b for b in budgets if b["id"] == budget_id)["current_daily_spend_cents"])


async def test_a_record_made_with_a_key_counts_toward_its_budget(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    budget_id = await key_budget(client, admin, "100")
    response = await client.post(
        "/api/v1/cost/record",
        json={"model": "m", "cost_cents": "70"},
        headers=signed(tenant, KEY),
    )
    assert response.status_code == 201, response.text
    assert await key_spend(client, admin, budget_id) == "70"


async def test_a_batch_made_with_a_key_counts_toward_its_budget(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    budget_id = await key_budget(client, admin, "100")
    records = [{"model": "m", "cost_cents": "20"}, {"model": "m", "cost_cents": "5.5"}]
    response = await client.post(
        "/api/v1/cost/records/batch",
        json={"records": records},
        headers=signed(tenant, KEY),
    )
    assert response.status_code == 201, response.text
    assert await key_spend(client, admin, budget_id) == "25.5"


async def test_a_key_reservation_is_refused_once_direct_records_used_its_budget(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    budget_id = await key_budget(client, admin, "100")
    headers = signed(tenant, KEY)
    await client.post(
        "/api/v1/cost/record", json={"model": "m", "cost_cents": "70"}, headers=headers
    )
    refused = await client.post(
        "/api/v1/cost/reservations", json={"estimated_cost_cents": "31"}, headers=headers
    )
    assert refused.status_code == 402
    assert (refused.json()["budget_id"], refused.json()["remaining_cents"]) == (budget_id, "30")


async def test_a_record_made_by_a_user_does_not_count_toward_a_key_budget(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await key_budget(client, admin, "100")
    response = await client.post(
        "/api/v1/cost/record", json={"model": "m", "cost_cents": "70"}, headers=admin
    )
    assert response.status_code == 201, response.text
    assert await key_spend(client, admin, budget_id) == "0"


async def test_a_repeated_request_id_charges_the_key_once(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    budget_id = await key_budget(client, admin, "100")
    body = {"model": "m", "cost_cents": "10", "request_id": "req-once"}
    headers = signed(tenant, KEY)
    assert (await client.post("/api/v1/cost/record", json=body, headers=headers)).status_code == 201
    assert (await client.post("/api/v1/cost/record", json=body, headers=headers)).status_code == 200
    assert await key_spend(client, admin, budget_id) == "10"
