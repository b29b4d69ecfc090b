"""request_id is exactly-once even when Redis is unreachable: Postgres decides."""

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from aos_common.testing import app_client
from aos_cost_intel.main import create_app
from aos_cost_intel.settings import CostIntelSettings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
async def redisless(settings: CostIntelSettings) -> AsyncIterator[httpx.AsyncClient]:
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed_port()}/0"})
    async with app_client(create_app(broken)) as http:
        yield http


async def test_redis_is_really_unreachable(redisless: httpx.AsyncClient) -> None:
    response = await redisless.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("unavailable")


async def test_a_request_id_is_recorded_once_without_redis(
    redisless: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"model": "gpt-4o", "input_tokens": 100, "request_id": "no-redis-1"}
    headers = {**admin, "Idempotency-Key": "no-redis-key"}
    first = await redisless.post("/api/v1/cost/record", json=body, headers=headers)
    second = await redisless.post("/api/v1/cost/record", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json()["data"]["id"] == second.json()["data"]["id"]
    summary = (await redisless.get("/api/v1/cost/summary", headers=admin)).json()
    assert summary["request_count"] == 1


async def test_concurrent_duplicates_without_redis_store_one_record(
    redisless: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"model": "gpt-4o", "input_tokens": 100, "request_id": "race-1"}
    batch = {"records": [body, {**body, "input_tokens": 7}]}
    responses = await asyncio.gather(
        *[redisless.post("/api/v1/cost/record", json=body, headers=admin) for _ in range(8)],
        redisless.post("/api/v1/cost/records/batch", json=batch, headers=admin),
    )
    ids = {r.json()["data"]["id"] for r in responses[:8]}
    ids |= {item["id"] for item in responses[8].json()["records"]}
    assert len(ids) == 1
    assert sorted(r.status_code for r in responses[:8]).count(201) <= 1
    summary = (await redisless.get("/api/v1/cost/summary", headers=admin)).json()
    assert summary["request_count"] == 1
