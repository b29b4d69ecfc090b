"""THE INVARIANT against the real service over HTTP (uvicorn process, real Postgres and Redis):
recorded spend + active holds never exceed a hard limit, however many callers ask at once."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from decimal import Decimal

import httpx
import redis

from .conftest import LiveCostIntel, signed

RESERVATIONS = "/api/v1/cost/reservations"
CALLERS = 500
IN_FLIGHT = 100
"""Requests on the wire at once: the 500 callers start together and queue in the client above
this, so that on a loaded machine no request waits out the service's database-pool timeout or
its signed context's minute."""


def new_tenant() -> str:
    return "tnt_" + secrets.token_hex(8)


async def hard_budget(
    http: httpx.AsyncClient, headers: dict[str, str], budget_type: str, entity_id: str | None,
    **limits: str,
) -> str:  # fmt: skip
    body = {"budget_type": budget_type, "entity_id": entity_id, "hard_limit_enabled": True}
    response = await http.post("/api/v1/cost/budgets", json={**body, **limits}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def budgets(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, dict]:
    response = await http.get("/api/v1/cost/budgets", headers=headers)
    assert response.status_code == 200, response.text
    return {budget["id"]: budget for budget in response.json()}


def client(live: LiveCostIntel) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    return httpx.AsyncClient(base_url=live.url, limits=limits, timeout=120)


Call = tuple[str, str | None, dict[str, object]]
"""(tenant, API key id or None, reservation body); headers are signed when the call is sent,
since a signed context is valid for a minute only."""


async def reserve_all(http: httpx.AsyncClient, calls: list[Call]) -> list[httpx.Response]:
    wire = asyncio.Semaphore(IN_FLIGHT)

    async def send(tenant: str, key: str | None, body: dict[str, object]) -> httpx.Response:
        body = {"estimated_cost_cents": "1.00", **body}
        async with wire:
            return await http.post(RESERVATIONS, json=body, headers=signed(tenant, key))

    return await asyncio.gather(*(send(*call) for call in calls))


async def settle_all(http: httpx.AsyncClient, tenant: str, responses: list[httpx.Response]) -> None:
    wire = asyncio.Semaphore(IN_FLIGHT)

    async def settle(reservation_id: str) -> httpx.Response:
        async with wire:
            return await http.post(
                f"{RESERVATIONS}/{reservation_id}/settle",
                json={"actual_cost_cents": "1.00"},
                headers=signed(tenant),
            )

    settled = await asyncio.gather(
        *(settle(r.json()["id"]) for r in responses if r.status_code == 201)
    )
    failed = [response.text for response in settled if response.status_code != 200]
    assert not failed, failed[:3]


async def test_500_concurrent_reservations_hold_exactly_a_budget_of_100(
    live: LiveCostIntel,
) -> None:
    tenant = new_tenant()
    async with client(live) as http:
        headers = signed(tenant)
        budget_id = await hard_budget(http, headers, "tenant", None, daily_limit_cents="100.00")
        responses = await reserve_all(http, [(tenant, None, {})] * CALLERS)
        assert Counter(r.status_code for r in responses) == {201: 100, 402: 400}
        refused = next(r for r in responses if r.status_code == 402).json()
        assert refused["detail"].startswith(f"Budget would be exceeded: {budget_id}")
        assert (await budgets(http, signed(tenant)))[budget_id]["held_cents"] == "100"
        await settle_all(http, tenant, responses)
        state = (await budgets(http, signed(tenant)))[budget_id]
    assert Decimal(state["current_daily_spend_cents"]) == Decimal("100.00")
    assert state["held_cents"] == "0"


async def test_the_old_check_then_record_path_overshoots_under_the_same_load(
    live: LiveCostIntel,
) -> None:
    """The guard is a check only: callers that all ask before any records all pass. This is the
    failure the reservation test above would show if reservations did not hold atomically."""
    tenant = new_tenant()
    async with client(live) as http:
        headers = signed(tenant)
        budget_id = await hard_budget(http, headers, "tenant", None, daily_limit_cents="100.00")

        wire = asyncio.Semaphore(IN_FLIGHT)

        async def check_then_record() -> bool:
            async with wire:
                return await guard_then_record()

        async def guard_then_record() -> bool:
            verdict = await http.post(
                "/api/v1/cost/guard", json={"estimated_cost_cents": "1.00"}, headers=signed(tenant)
            )
            if not verdict.json()["allowed"]:
                return False
            recorded = await http.post(
                "/api/v1/cost/record",
                json={"model": "m", "cost_cents": "1.00"},
                headers=signed(tenant),
            )
            return recorded.status_code == 201

        allowed = await asyncio.gather(*(check_then_record() for _ in range(CALLERS)))
        state = (await budgets(http, signed(tenant)))[budget_id]
    spend = Decimal(state["current_daily_spend_cents"])
    assert sum(allowed) > 100
    assert spend == sum(allowed) > Decimal("100.00")


async def test_overlapping_feature_user_and_key_budgets_all_hold_under_concurrency(
    live: LiveCostIntel,
) -> None:
    tenant = new_tenant()
    admin = signed(tenant)
    async with client(live) as http:
        feature = await http.post(
            "/api/v1/cost/features",
            json={"tag": "search.query", "display_name": "Search"},
            headers=admin,
        )
        assert feature.status_code == 201, feature.text
        limits = {
            await hard_budget(http, admin, "tenant", None, daily_limit_cents="100.00"): "100",
            await hard_budget(
                http, admin, "feature", "search.query", monthly_limit_cents="40"
            ): "40",
            await hard_budget(http, admin, "user", "alice", daily_limit_cents="30"): "30",
            await hard_budget(http, admin, "api_key", "key_one", weekly_limit_cents="25"): "25",
        }
        calls = []
        for index in range(CALLERS):
            body: dict[str, object] = {"feature_tag": "search.query" if index % 2 else "chat.reply"}
            if index % 3 == 0:
                body["user_id"] = "alice"
            key = "key_one" if index % 5 < 2 else "key_two"
            calls.append((tenant, key, body))
        responses = await reserve_all(http, calls)
        assert {r.status_code for r in responses} == {201, 402}
        held: Counter[str] = Counter()
        for response in responses:
            if response.status_code == 201:
                held.update(hold["budget_id"] for hold in response.json()["budgets"])
        state = await budgets(http, signed(tenant))
        for budget_id, limit in limits.items():
            assert held[budget_id] <= Decimal(limit)
            assert Decimal(state[budget_id]["held_cents"]) == held[budget_id]
        # Holds only grew during the burst, so a call refused then is refused now: no refusal
        # was spurious.
        refused = [call for call, r in zip(calls, responses, strict=True) if r.status_code == 402]
        again = await reserve_all(http, refused)
        assert {r.status_code for r in again} == {402}
        await settle_all(http, tenant, responses)
        state = await budgets(http, signed(tenant))
    for budget_id, limit in limits.items():
        budget = state[budget_id]
        spend = max(
            Decimal(budget[name])
            for name in (
                "current_daily_spend_cents",
                "current_weekly_spend_cents",
                "current_monthly_spend_cents",
            )
        )
        assert spend == held[budget_id] <= Decimal(limit)
        assert budget["held_cents"] == "0"


async def test_holds_survive_a_kill_and_a_redis_flush(live: LiveCostIntel) -> None:
    tenant = new_tenant()
    async with client(live) as http:
        headers = signed(tenant)
        budget_id = await hard_budget(http, headers, "tenant", None, daily_limit_cents="100.00")
        before = await reserve_all(http, [(tenant, None, {})] * 60)
        assert {r.status_code for r in before} == {201}
    live.kill()
    redis.Redis.from_url(live.redis_url).flushall()
    live.start()
    async with client(live) as http:
        after = await reserve_all(http, [(tenant, None, {})] * 50)
        assert Counter(r.status_code for r in after) == {201: 40, 402: 10}
        await settle_all(http, tenant, before + after)
        state = (await budgets(http, signed(tenant)))[budget_id]
    assert Decimal(state["current_daily_spend_cents"]) == Decimal("100.00")
    assert state["held_cents"] == "0"
