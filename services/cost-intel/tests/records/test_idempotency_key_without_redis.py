"""An Idempotency-Key alone (no request_id) is exactly-once with Redis killed: Postgres records the
key in the transaction of the write."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from aos_common.testing import app_client
from aos_common.testing.servers import PrivateRedis, private_redis
from aos_cost_intel.main import create_app
from aos_cost_intel.settings import CostIntelSettings

URL = "/api/v1/cost/record"
BODY = {"model": "gpt-4o", "input_tokens": 100}


@pytest.fixture(scope="module")
async def killed_redis(
    settings: CostIntelSettings,
) -> AsyncIterator[tuple[httpx.AsyncClient, PrivateRedis]]:
    with private_redis() as redis:
        own = settings.model_copy(update={"redis_url": redis.url})
        async with app_client(create_app(own)) as http:
            assert (await http.get("/readyz")).status_code == 200
            redis.kill()
            yield http, redis


async def request_count(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    summary = await http.get("/api/v1/cost/summary", headers=headers)
    return int(summary.json()["request_count"])


async def test_three_posts_with_one_key_store_one_row(
    killed_redis: tuple[httpx.AsyncClient, PrivateRedis], admin: dict[str, str]
) -> None:
    http, redis = killed_redis
    assert not redis.running
    headers = {**admin, "Idempotency-Key": "three-times"}
    responses = [await http.post(URL, json=BODY, headers=headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert {r.json()["data"]["id"] for r in responses} == {responses[0].json()["data"]["id"]}
    assert [r.headers.get("idempotent-replayed") for r in responses] == [None, "true", "true"]
    assert await request_count(http, admin) == 1


async def test_concurrent_posts_with_one_key_store_one_row(
    killed_redis: tuple[httpx.AsyncClient, PrivateRedis], admin: dict[str, str]
) -> None:
    http, _ = killed_redis
    headers = {**admin, "Idempotency-Key": "all-at-once"}
    responses = await asyncio.gather(
        *(http.post(URL, json=BODY, headers=headers) for _ in range(8))
    )
    created = [r for r in responses if r.status_code == 201]
    # A duplicate waits up to 200 ms for the first to commit, then replays it; past that it is
    # told the request is in progress (409), as API.md says.
    assert {r.status_code for r in responses} <= {201, 409} and created
    assert len({r.json()["data"]["id"] for r in created}) == 1
    assert await request_count(http, admin) == 1


async def test_a_key_reused_with_another_body_is_409_without_redis(
    killed_redis: tuple[httpx.AsyncClient, PrivateRedis], admin: dict[str, str]
) -> None:
    http, _ = killed_redis
    headers = {**admin, "Idempotency-Key": "reused"}
    assert (await http.post(URL, json=BODY, headers=headers)).status_code == 201
    other = await http.post(URL, json={**BODY, "input_tokens": 5}, headers=headers)
    assert other.status_code == 409
    assert other.json()["detail"] == "Idempotency key reused with a different request"
    assert await request_count(http, admin) == 1


async def test_a_refused_request_leaves_its_key_free_for_a_retry(
    killed_redis: tuple[httpx.AsyncClient, PrivateRedis], admin: dict[str, str]
) -> None:
    http, _ = killed_redis
    headers = {**admin, "Idempotency-Key": "retry-after-422"}
    refused = await http.post(URL, json={"model": "mystery-1", "input_tokens": 5}, headers=headers)
    assert refused.status_code == 422
    retried = await http.post(URL, json=BODY, headers=headers)
    assert retried.status_code == 201
    assert retried.headers.get("idempotent-replayed") is None
