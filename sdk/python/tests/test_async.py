"""The async client behaves like the sync one (same stub server, real sockets)."""

from __future__ import annotations

import hashlib

import pytest
from sdk_stub import Answer, StubServer, envelope, problem

from aos_sdk import AsyncAOSClient, QuotaExceededError


def _client(stub: StubServer) -> tuple[AsyncAOSClient, list[float]]:
    client = AsyncAOSClient("aos_test_key", stub.url, max_retries=3)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client._sleep = sleep
    return client, slept


async def test_async_run_posts_trace_and_completes(aos_stub: StubServer) -> None:
    client, _ = _client(aos_stub)
    async with client, client.run("w", "t") as run:
        for i in range(3):
            async with run.step("s", {"i": i}) as step:
                step.output = i
    trace = aos_stub.sent("POST", "/api/v1/traces")[0].body["trace"]
    assert trace["root_hash"] == run.root_hash and run.hash_verified is True
    assert trace["steps"][2]["output_hash"] == hashlib.sha256(b"2").hexdigest()[:16]
    assert aos_stub.sent("PATCH", "/api/v1/runs/")[0].body["status"] == "succeeded"


async def test_async_retry_reuses_key_and_honours_retry_after(stub: StubServer) -> None:
    stub.script(
        "POST",
        "/api/v1/cost/record",
        Answer(503, problem(503, "busy"), {"Retry-After": "1"}),
        Answer(201, envelope({"id": "cr_1"})),
    )
    client, slept = _client(stub)
    async with client:
        assert (await client.record_cost("m", cost_cents=1))["id"] == "cr_1"
    sent = stub.sent("POST", "/api/v1/cost/record")
    assert sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    assert slept == [1.0]


async def test_async_quota_refusal_raises(aos_stub: StubServer) -> None:
    aos_stub.script(
        "POST", "/api/v1/runs", Answer(429, problem(429, "Concurrent run limit (5) reached"))
    )
    client, _ = _client(aos_stub)
    with pytest.raises(QuotaExceededError, match="Concurrent run limit"):
        async with client.run("w", "t"):
            pass
    await client.aclose()


async def test_async_cost_batcher_flushes_on_exit(stub: StubServer) -> None:
    stub.default(
        "POST",
        "/api/v1/cost/records/batch",
        lambda seen: envelope({"ids": ["x"] * len(seen.body["records"])}),
        201,
    )
    client, _ = _client(stub)
    async with client.cost_batcher(batch_size=10) as batcher:
        for _ in range(4):
            await batcher.add("m", cost_cents=1)
    assert len(stub.sent("POST", "/api/v1/cost/records/batch")) == 1
    assert len(batcher.results) == 4
    await client.aclose()
