import httpx
from sqlalchemy import select

from aos_common.state import service_state
from aos_cost_intel.models import outbox

URL = "/api/v1/cost/budgets"


async def audit_events(client: httpx.AsyncClient, tenant: str) -> list[str]:
    state = service_state(client._transport.app)  # type: ignore[attr-defined]
    async with state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(outbox.c.payload)
                .where(outbox.c.payload["tenant_id"].astext == tenant)
                .order_by(outbox.c.created_at)
            )
        ).all()
    return [row["event_type"] for row in rows]


async def test_creating_a_budget_is_201_and_audited_as_limit_created(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    body = {"budget_type": "tenant", "daily_limit_cents": "1000.5", "monthly_limit_cents": 20000}
    response = await client.post(URL, json=body, headers=admin)
    assert response.status_code == 201, response.text
    budget = response.json()
    assert budget["id"].startswith("cb_")
    assert budget == {
        **budget,
        "tenant_id": tenant,
        "budget_type": "tenant",
        "entity_id": None,
        "daily_limit_cents": "1000.5",
        "monthly_limit_cents": "20000",
        "warn_threshold_pct": 80,
        "hard_limit_enabled": False,
        "is_active": True,
        "current_daily_spend_cents": "0",
        "current_monthly_spend_cents": "0",
    }
    assert await audit_events(client, tenant) == ["LimitCreated"]


async def test_posting_the_same_budget_again_updates_it_and_is_audited_as_limit_updated(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    body = {"budget_type": "user", "entity_id": "alice", "daily_limit_cents": 100}
    first = (await client.post(URL, json=body, headers=admin)).json()
    response = await client.post(URL, json={**body, "daily_limit_cents": 250}, headers=admin)
    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["daily_limit_cents"] == "250"
    assert await audit_events(client, tenant) == ["LimitCreated", "LimitUpdated"]
    listed = (await client.get(URL, headers=admin)).json()
    assert [b["id"] for b in listed] == [first["id"]]


async def test_budget_spend_follows_the_entity(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/cost/features", json={"tag": "a.b", "display_name": "ab"}, headers=admin
    )
    for user, tag, cost in (("alice", "a.b", "3"), ("bob", "a.b", "4"), ("alice", None, "5.5")):
        await client.post(
            "/api/v1/cost/record",
            json={"model": "m", "cost_cents": cost, "user_id": user, "feature_tag": tag},
            headers=admin,
        )
    for body in (
        {"budget_type": "tenant", "daily_limit_cents": 100},
        {"budget_type": "feature", "entity_id": "a.b", "daily_limit_cents": 100},
        {"budget_type": "user", "entity_id": "alice", "monthly_limit_cents": 100},
    ):
        await client.post(URL, json=body, headers=admin)
    listed = {
        (b["budget_type"], b["entity_id"]): b for b in (await client.get(URL, headers=admin)).json()
    }
    assert listed[("tenant", None)]["current_daily_spend_cents"] == "12.5"
    assert listed[("feature", "a.b")]["current_daily_spend_cents"] == "7"
    assert listed[("user", "alice")]["current_monthly_spend_cents"] == "8.5"


async def test_a_wrong_budget_type_is_400(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(URL, json={"budget_type": "team"}, headers=admin)
    assert response.status_code == 400
    assert (
        response.json()["detail"] == "budget_type must be 'tenant', 'feature', 'user', or 'api_key'"
    )


async def test_a_feature_budget_without_entity_is_400(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(URL, json={"budget_type": "feature"}, headers=admin)
    assert response.status_code == 400
    assert response.json()["detail"] == "entity_id required for feature budget"
    response = await client.post(URL, json={"budget_type": "user", "entity_id": ""}, headers=admin)
    assert response.status_code in (400, 422)


async def test_budget_bounds_are_validated(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for body in (
        {"budget_type": "tenant", "warn_threshold_pct": 101},
        {"budget_type": "tenant", "daily_limit_cents": -1},
    ):
        assert (await client.post(URL, json=body, headers=admin)).status_code == 422


async def test_developers_cannot_set_budgets(client: httpx.AsyncClient, as_role) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(URL, json={"budget_type": "tenant"}, headers=as_role("developer"))
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission budgets:write"
