"""Group commit (reservations/batcher.py, reservations/closing.py): calls sent at once to one
worker share a statement or a transaction, and still get the answers one at a time would."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable

import httpx

URL = "/api/v1/cost/reservations"


async def hard_budget(client: httpx.AsyncClient, headers: dict[str, str], limit: str) -> str:
    body = {"budget_type": "tenant", "hard_limit_enabled": True, "daily_limit_cents": limit}
    response = await client.post("/api/v1/cost/budgets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def reserve(client: httpx.AsyncClient, headers: dict[str, str], cents: str) -> httpx.Response:
    return await client.post(URL, json={"estimated_cost_cents": cents}, headers=headers)


async def test_concurrent_reservations_in_one_worker_hold_exactly_the_budget(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await hard_budget(client, admin, "100")
    answers = await asyncio.gather(*(reserve(client, admin, "30") for _ in range(10)))
    assert Counter(r.status_code for r in answers) == {201: 3, 402: 7}


async def test_each_held_reservation_reports_what_remained_after_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await hard_budget(client, admin, "100")
    answers = await asyncio.gather(*(reserve(client, admin, "25") for _ in range(4)))
    remaining = sorted(r.json()["budgets"][0]["remaining_cents"] for r in answers)
    assert remaining == ["0", "25", "50", "75"]


async def test_a_refused_reservation_names_what_remained_when_it_was_decided(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, "100")
    answers = await asyncio.gather(reserve(client, admin, "70"), reserve(client, admin, "40"))
    refused = [r.json() for r in answers if r.status_code == 402]
    assert [(p["budget_id"], p["remaining_cents"]) for p in refused] in (
        [(budget_id, "30")],
        [(budget_id, "60")],
    )


async def test_one_bad_settle_in_a_batch_refuses_only_itself(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, "100")
    first, second = [(await reserve(client, admin, "10")).json()["id"] for _ in range(2)]
    bad = {"records": [{"model": "no-such-model", "input_tokens": 10}]}
    refused, settled = await asyncio.gather(
        client.post(f"{URL}/{first}/settle", json=bad, headers=admin),
        client.post(f"{URL}/{second}/settle", json={"actual_cost_cents": "7"}, headers=admin),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "records.0.model"
    assert settled.status_code == 200, settled.text
    assert settled.json()["budgets"] == [{"budget_id": budget_id, "remaining_cents": "83"}]


async def test_the_same_reservation_settled_twice_at_once_is_charged_once(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, "100")
    rid = (await reserve(client, admin, "10")).json()["id"]
    body = {"actual_cost_cents": "9"}
    answers = await asyncio.gather(
        *(client.post(f"{URL}/{rid}/settle", json=body, headers=admin) for _ in range(3))
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409]
    budgets = (await client.get("/api/v1/cost/budgets", headers=admin)).json()
    state = next(b for b in budgets if b["id"] == budget_id)
    assert (state["current_daily_spend_cents"], state["held_cents"]) == ("9", "0")


async def test_settles_and_releases_in_one_batch_each_take_their_hold_off(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await hard_budget(client, admin, "100")
    ids = [(await reserve(client, admin, "20")).json()["id"] for _ in range(4)]
    answers = await asyncio.gather(
        client.post(f"{URL}/{ids[0]}/settle", json={"actual_cost_cents": "5"}, headers=admin),
        client.post(f"{URL}/{ids[1]}/release", headers=admin),
        client.post(f"{URL}/{ids[2]}/settle", json={"actual_cost_cents": "6"}, headers=admin),
    )
    assert [r.json()["status"] for r in answers] == ["settled", "released", "settled"]
    budgets = (await client.get("/api/v1/cost/budgets", headers=admin)).json()
    state = next(b for b in budgets if b["id"] == budget_id)
    assert (state["current_daily_spend_cents"], state["held_cents"]) == ("11", "20")


async def test_settles_on_many_tenants_at_once_each_charge_their_own_tenant(
    client: httpx.AsyncClient, as_role: Callable[..., dict[str, str]]
) -> None:
    tenants = [as_role("admin", tenant_id="tnt_" + secrets.token_hex(8)) for _ in range(6)]
    budget_ids = [await hard_budget(client, headers, "100") for headers in tenants]
    held = [(await reserve(client, headers, "20")).json()["id"] for headers in tenants]
    answers = await asyncio.gather(
        *(
            client.post(f"{URL}/{rid}/settle", json={"actual_cost_cents": str(i + 1)}, headers=h)
            for i, (rid, h) in enumerate(zip(held, tenants, strict=True))
        )
    )
    assert [r.json()["charged_cents"] for r in answers] == [str(i + 1) for i in range(6)]
    for i, (headers, budget_id) in enumerate(zip(tenants, budget_ids, strict=True)):
        budgets = (await client.get("/api/v1/cost/budgets", headers=headers)).json()
        state = next(b for b in budgets if b["id"] == budget_id)
        assert (state["current_daily_spend_cents"], state["held_cents"]) == (str(i + 1), "0")
