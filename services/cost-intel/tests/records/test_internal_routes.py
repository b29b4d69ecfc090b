from decimal import Decimal

import httpx

from aos_common.auth import service_principal, sign_context
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET


def internal() -> dict[str, str]:
    return sign_context(service_principal("traces"), DEVELOPMENT_INTERNAL_SECRET)


async def test_internal_record_is_exactly_once_per_request_id(
    client: httpx.AsyncClient, tenant: str
) -> None:
    body = {"tenant_id": tenant, "model": "gpt-4o", "input_tokens": 1000, "request_id": "run_1:0"}
    first = await client.post("/internal/v1/cost/records", json=body, headers=internal())
    second = await client.post("/internal/v1/cost/records", json=body, headers=internal())
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["cost_cents"] == "0.25"


async def test_internal_record_without_request_id_dedups_on_the_outbox_id(
    client: httpx.AsyncClient, tenant: str
) -> None:
    body = {"tenant_id": tenant, "model": "x", "cost_cents": 2, "id": "8c1a-outbox-message"}
    first = await client.post("/internal/v1/cost/records", json=body, headers=internal())
    second = await client.post("/internal/v1/cost/records", json=body, headers=internal())
    assert first.json()["id"] == second.json()["id"]


async def test_internal_routes_refuse_public_credentials(
    client: httpx.AsyncClient, admin: dict[str, str], operator: dict[str, str], tenant: str
) -> None:
    body = {"tenant_id": tenant, "model": "x", "cost_cents": 2}
    assert (await client.post("/internal/v1/cost/records", json=body)).status_code == 401
    assert (
        await client.post("/internal/v1/cost/records", json=body, headers=operator)
    ).status_code == 401
    response = await client.get("/internal/v1/cost/guard", params={"tenant_id": tenant})
    assert response.status_code == 401


async def test_run_costs_gather_records_by_workflow_and_request_prefix(
    client: httpx.AsyncClient, tenant: str
) -> None:
    rows = [
        {"request_id": "run_abc:1", "cost_cents": "1.5"},
        {"request_id": "run_abc:2", "cost_cents": "2.25"},
        {"workflow_id": "run_abc", "cost_cents": "3"},
        {"request_id": "run_abcd:1", "cost_cents": "100"},
        {"request_id": "run_ab", "cost_cents": "100"},
        {"workflow_id": "run_other", "cost_cents": "100"},
    ]
    for row in rows:
        await client.post(
            "/internal/v1/cost/records",
            json={"tenant_id": tenant, "model": "m", **row},
            headers=internal(),
        )
    response = await client.get(
        "/internal/v1/cost/runs/run_abc:", params={"tenant_id": tenant}, headers=internal()
    )
    assert response.json()["total_cost_cents"] == "3.75"
    response = await client.get(
        "/internal/v1/cost/runs/run_abc", params={"tenant_id": tenant}, headers=internal()
    )
    run = response.json()
    assert run["run_id"] == "run_abc"
    assert Decimal(run["total_cost_cents"]) == Decimal("106.75")
    assert len(run["records"]) == 4
    assert {r["request_id"] for r in run["records"]} == {
        "run_abc:1",
        "run_abc:2",
        None,
        "run_abcd:1",
    }


async def test_internal_guard_reports_an_exhausted_hard_tenant_budget(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    budget = (
        await client.post(
            "/api/v1/cost/budgets",
            json={"budget_type": "tenant", "daily_limit_cents": 10, "hard_limit_enabled": True},
            headers=admin,
        )
    ).json()
    ok = (
        await client.get(
            "/internal/v1/cost/guard", params={"tenant_id": tenant}, headers=internal()
        )
    ).json()
    assert ok == {
        "allowed": True,
        "reason": "Within budget",
        "budget_id": budget["id"],
        "remaining_cents": "10",
        "on_unavailable": "deny",
    }
    await client.post("/api/v1/cost/record", json={"model": "x", "cost_cents": 10}, headers=admin)
    refused = (
        await client.get(
            "/internal/v1/cost/guard",
            params={"tenant_id": tenant, "estimated_cost_cents": 0},
            headers=internal(),
        )
    ).json()
    assert refused["allowed"] is False
    assert refused["reason"] == f"Budget exhausted: {budget['id']}"
    assert refused["remaining_cents"] == "0"


async def test_an_empty_request_id_means_none(client: httpx.AsyncClient, tenant: str) -> None:
    body = {
        "tenant_id": tenant,
        "model": "x",
        "cost_cents": 1,
        "request_id": "",
        "user_id": "",
        "id": "m-1",
    }
    first = await client.post("/internal/v1/cost/records", json=body, headers=internal())
    second = await client.post("/internal/v1/cost/records", json=body, headers=internal())
    assert first.status_code == 201, first.text
    assert first.json()["id"] == second.json()["id"]


async def test_an_outbox_batch_answers_each_message_and_refuses_only_the_bad_ones(
    client: httpx.AsyncClient, tenant: str
) -> None:
    good = {"tenant_id": tenant, "id": "m1", "model": "gpt-4o", "input_tokens": 1000}
    messages = [
        good,
        {"tenant_id": tenant, "id": "m2", "model": "no-such-model", "input_tokens": 5},
        {"tenant_id": tenant, "id": "m3", "model": "gpt-4o", "output_tokens": "many"},
        {"id": "m4", "model": "gpt-4o"},
        good,
    ]
    response = await client.post(
        "/internal/v1/cost/records/batch", json={"messages": messages}, headers=internal()
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["index"], r["id"], r["status"]) for r in results] == [
        (0, "m1", "stored"),
        (1, "m2", "refused"),
        (2, "m3", "refused"),
        (3, "m4", "refused"),
        (4, "m1", "duplicate"),
    ]
    assert results[1]["detail"] == "No price known for model 'no-such-model'; send cost_cents"
    assert results[2]["detail"].startswith("Invalid message: output_tokens:")
    assert results[3]["detail"].startswith("Invalid message: tenant_id:")
    again = await client.post(
        "/internal/v1/cost/records/batch", json={"messages": [good]}, headers=internal()
    )
    assert again.json()["results"][0]["status"] == "duplicate"


async def test_an_empty_or_oversized_outbox_batch_is_a_422(
    client: httpx.AsyncClient, tenant: str
) -> None:
    for messages in ([], [{"tenant_id": tenant, "model": "x"}] * 1001):
        response = await client.post(
            "/internal/v1/cost/records/batch", json={"messages": messages}, headers=internal()
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "messages"


async def test_an_outbox_batch_that_is_not_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/internal/v1/cost/records/batch",
        content=b'{"messages": [',
        headers={**internal(), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"].startswith("Invalid request: body: Invalid JSON")
