"""GET /api/v1/cost/reservations: the page envelope, each hold with the budgets it sits on."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from .test_reservations_api import URL, hard_budget, reserve


async def listed(
    client: httpx.AsyncClient, headers: dict[str, str], **query: Any
) -> httpx.Response:
    return await client.get(URL, params=query, headers=headers)


async def test_a_hold_lists_the_budget_it_sits_on_with_its_type_and_amount(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    held = (await reserve(client, admin, "30")).json()
    response = await listed(client, admin)
    assert response.status_code == 200, response.text
    [row] = response.json()["data"]
    assert (row["id"], row["status"], row["held_cents"]) == (held["id"], "held", "30")
    assert row["budgets"] == [
        {"budget_id": budget_id, "budget_type": "tenant", "entity_id": None, "held_cents": "30"}
    ]


async def test_a_hold_on_two_budgets_lists_both(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tenant_budget = await hard_budget(client, admin, monthly_limit_cents="1000")
    user_budget = await hard_budget(
        client, admin, budget_type="user", entity_id="ana", daily_limit_cents="100"
    )
    assert (await reserve(client, admin, "12.5", user_id="ana")).status_code == 201
    [row] = (await listed(client, admin)).json()["data"]
    assert sorted((b["budget_id"], b["budget_type"], b["entity_id"]) for b in row["budgets"]) == (
        sorted([(tenant_budget, "tenant", None), (user_budget, "user", "ana")])
    )
    assert {b["held_cents"] for b in row["budgets"]} == {"12.5"}


async def test_a_hold_under_no_hard_budget_lists_no_budgets(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    assert (await reserve(client, admin, "5")).status_code == 201
    [row] = (await listed(client, admin)).json()["data"]
    assert row["budgets"] == []


async def test_a_released_hold_still_names_the_budget_it_sat_on(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, daily_limit_cents="100")
    held = (await reserve(client, admin, "40")).json()
    assert (await client.post(f"{URL}/{held['id']}/release", headers=admin)).status_code == 200
    [row] = (await listed(client, admin, status="released")).json()["data"]
    assert row["status"] == "released"
    assert [(b["budget_id"], b["held_cents"]) for b in row["budgets"]] == [(budget_id, "40")]


async def test_the_status_filter_lists_only_that_status(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await hard_budget(client, admin, daily_limit_cents="100")
    kept = (await reserve(client, admin, "10")).json()
    gone = (await reserve(client, admin, "20")).json()
    await client.post(f"{URL}/{gone['id']}/release", headers=admin)
    held = (await listed(client, admin, status="held")).json()["data"]
    assert [row["id"] for row in held] == [kept["id"]]


async def test_reservations_are_listed_newest_first_in_a_page_envelope(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    ids = [(await reserve(client, admin, str(cents))).json()["id"] for cents in (1, 2, 3)]
    body = (await listed(client, admin, limit=2, offset=0)).json()
    assert [row["id"] for row in body["data"]] == [ids[2], ids[1]]
    assert (body["meta"]["total"], body["meta"]["page_size"], body["meta"]["has_more"]) == (
        3,
        2,
        True,
    )


async def test_another_tenants_reservations_are_not_listed(
    client: httpx.AsyncClient, admin: dict[str, str], as_role: Any
) -> None:
    assert (await reserve(client, admin, "7")).status_code == 201
    other = as_role("admin", tenant_id="tnt_" + secrets.token_hex(8))
    body = (await listed(client, other)).json()
    assert (body["data"], body["meta"]["total"]) == ([], 0)


async def test_an_unknown_status_is_a_422_problem(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await listed(client, admin, status="pending")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"].endswith("status")
