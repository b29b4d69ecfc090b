import httpx

URL = "/api/v1/cost/guard"


async def budget(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> str:
    response = await client.post("/api/v1/cost/budgets", json=body, headers=headers)
    return str(response.json()["id"])


async def spend(
    client: httpx.AsyncClient, headers: dict[str, str], cost: str, **extra: object
) -> None:
    await client.post(
        "/api/v1/cost/record", json={"model": "m", "cost_cents": cost, **extra}, headers=headers
    )


async def test_without_hard_budgets_everything_is_allowed(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await budget(client, admin, budget_type="tenant", daily_limit_cents=1)
    await spend(client, admin, "50")
    response = await client.post(URL, json={"estimated_cost_cents": 10}, headers=admin)
    assert response.status_code == 200
    assert response.json() == {
        "allowed": True,
        "reason": "No hard budget applies",
        "budget_id": None,
        "remaining_cents": None,
        "on_unavailable": "allow",
    }


async def test_a_hard_daily_tenant_budget_refuses_a_call_that_would_exceed_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await budget(
        client, admin, budget_type="tenant", daily_limit_cents=100, hard_limit_enabled=True
    )
    await spend(client, admin, "90")
    fits = (await client.post(URL, json={"estimated_cost_cents": "10"}, headers=admin)).json()
    assert fits == {
        "allowed": True,
        "reason": "Within budget",
        "budget_id": budget_id,
        "remaining_cents": "10",
        "on_unavailable": "deny",
    }
    refused = (await client.post(URL, json={"estimated_cost_cents": "10.01"}, headers=admin)).json()
    assert refused == {
        "allowed": False,
        "reason": f"Budget would be exceeded: {budget_id}",
        "budget_id": budget_id,
        "remaining_cents": "10",
        "on_unavailable": "deny",
    }


async def test_a_hard_user_budget_only_limits_that_user(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    budget_id = await budget(
        client,
        admin,
        budget_type="user",
        entity_id="carol",
        monthly_limit_cents=5,
        hard_limit_enabled=True,
    )
    await spend(client, admin, "5", user_id="carol")
    carol = (
        await client.post(URL, json={"estimated_cost_cents": 0, "user_id": "carol"}, headers=admin)
    ).json()
    dave = (
        await client.post(URL, json={"estimated_cost_cents": 0, "user_id": "dave"}, headers=admin)
    ).json()
    assert (carol["allowed"], carol["reason"]) == (False, f"Budget exhausted: {budget_id}")
    assert dave["allowed"] is True


async def test_a_hard_feature_budget_limits_that_feature(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/cost/features", json={"tag": "g.f", "display_name": "g"}, headers=admin
    )
    budget_id = await budget(
        client,
        admin,
        budget_type="feature",
        entity_id="g.f",
        daily_limit_cents=3,
        hard_limit_enabled=True,
    )
    await spend(client, admin, "2", feature_tag="g.f")
    refused = (
        await client.post(
            URL, json={"estimated_cost_cents": 2, "feature_tag": "g.f"}, headers=admin
        )
    ).json()
    assert (refused["allowed"], refused["budget_id"]) == (False, budget_id)


async def test_guard_needs_an_estimate(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    assert (await client.post(URL, json={}, headers=admin)).status_code == 422
    assert (
        await client.post(URL, json={"estimated_cost_cents": -1}, headers=admin)
    ).status_code == 422


async def test_a_read_only_key_may_ask_the_guard(client: httpx.AsyncClient, as_role) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(URL, json={"estimated_cost_cents": 1}, headers=as_role("viewer"))
    assert response.status_code == 200
