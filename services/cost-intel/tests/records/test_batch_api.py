from decimal import Decimal

import httpx

URL = "/api/v1/cost/records/batch"


async def test_a_batch_is_stored_with_per_record_ids(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    records = [
        {"model": "gpt-4o-mini", "input_tokens": i, "user_id": f"u{i % 3}"} for i in range(1, 251)
    ]
    response = await client.post(URL, json={"records": records}, headers=admin)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["recorded_count"] == 250 and result["duplicate_count"] == 0
    assert [r["index"] for r in result["records"]] == list(range(250))
    assert len({r["id"] for r in result["records"]}) == 250
    expected = sum(Decimal(i) * 15 for i in range(1, 251)) / 10**6
    assert Decimal(result["total_cost_cents"]) == expected
    summary = (await client.get("/api/v1/cost/summary", headers=admin)).json()
    assert (Decimal(summary["total_cost_cents"]), summary["request_count"]) == (expected, 250)


async def test_one_bad_record_refuses_the_whole_batch(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    records = [{"model": "gpt-4o", "input_tokens": 1}] * 5 + [
        {"model": "who-knows", "input_tokens": 1}
    ]
    response = await client.post(URL, json={"records": records}, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"] == "No price known for model 'who-knows'; send cost_cents"
    assert response.json()["errors"][0]["field"] == "records.5.model"
    summary = (await client.get("/api/v1/cost/summary", headers=admin)).json()
    assert summary["request_count"] == 0


async def test_request_ids_in_and_across_batches_are_recorded_once(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/cost/record",
        json={"model": "x", "cost_cents": 5, "request_id": "old"},
        headers=admin,
    )
    records = [
        {"model": "x", "cost_cents": 1, "request_id": "a"},
        {"model": "x", "cost_cents": 2, "request_id": "a"},
        {"model": "x", "cost_cents": 3, "request_id": "old"},
        {"model": "x", "cost_cents": 4},
    ]
    result = (await client.post(URL, json={"records": records}, headers=admin)).json()
    statuses = [r["status"] for r in result["records"]]
    assert statuses == ["recorded", "duplicate", "duplicate", "recorded"]
    assert result["records"][0]["id"] == result["records"][1]["id"]
    assert result["records"][2]["cost_cents"] == "5"
    assert result["total_cost_cents"] == "5"
    again = (await client.post(URL, json={"records": records}, headers=admin)).json()
    assert again["recorded_count"] == 1
    summary = (await client.get("/api/v1/cost/summary", headers=admin)).json()
    assert (summary["total_cost_cents"], summary["request_count"]) == ("14", 4)


async def test_more_than_ten_thousand_records_is_413(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    records = [{"model": "x", "cost_cents": 1}] * 10_001
    response = await client.post(URL, json={"records": records}, headers=admin)
    assert response.status_code == 413
    assert response.json()["detail"] == "A batch holds at most 10,000 records"


async def test_a_full_batch_of_ten_thousand_is_accepted(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    records = [{"model": "gpt-4o", "input_tokens": 3, "output_tokens": 1}] * 10_000
    response = await client.post(URL, json={"records": records}, headers=admin)
    assert response.status_code == 201
    assert response.json()["recorded_count"] == 10_000
    assert (
        Decimal(response.json()["total_cost_cents"]) == Decimal(10_000) * (3 * 250 + 1000) / 10**6
    )


async def test_concurrent_batches_on_the_same_rollup_rows_all_land(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    import asyncio

    records = [{"model": "gpt-4o", "cost_cents": "0.5", "user_id": f"u{i % 7}"} for i in range(700)]
    responses = await asyncio.gather(
        *[client.post(URL, json={"records": records}, headers=admin) for _ in range(4)],
        *[client.post("/api/v1/cost/record", json=records[0], headers=admin) for _ in range(4)],
    )
    assert [r.status_code for r in responses] == [201] * 8
    summary = (await client.get("/api/v1/cost/summary", headers=admin)).json()
    assert (summary["total_cost_cents"], summary["request_count"]) == ("1402", 2804)
    users = (await client.get("/api/v1/cost/by-user", headers=admin)).json()["data"]
    assert sum(Decimal(u["total_cost_cents"]) for u in users) == Decimal(1402)
