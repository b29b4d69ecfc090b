"""The Redis token bucket, against the real Redis: one script, shared by every replica."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from aos_gateway.middlewares.ratelimit import RateLimiter, bucket_key
from aos_gateway.redis_link import PipelinedRedis


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[PipelinedRedis]:
    client = PipelinedRedis(redis_url)
    yield client
    await client.aclose()


def _prefix() -> str:
    return f"aos:gwtest:{secrets.token_hex(4)}"


async def test_burst_is_allowed_then_refused_with_the_wait_until_a_token(
    redis: PipelinedRedis,
) -> None:
    limiter = RateLimiter(redis, prefix=_prefix())
    decisions = [await limiter.take("b", rate_per_second=1.0, burst=3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0 < decisions[3].retry_after <= 1.0


async def test_two_replicas_share_one_bucket(redis: PipelinedRedis, redis_url: str) -> None:
    prefix = _prefix()
    other = PipelinedRedis(redis_url)
    try:
        first, second = RateLimiter(redis, prefix=prefix), RateLimiter(other, prefix=prefix)
        allowed = [
            (await limiter.take("shared", rate_per_second=0.1, burst=4)).allowed
            for limiter in (first, second, first, second, first, second)
        ]
    finally:
        await other.aclose()
    assert allowed == [True, True, True, True, False, False]


async def test_concurrent_takes_never_overspend(redis: PipelinedRedis) -> None:
    limiter = RateLimiter(redis, prefix=_prefix())
    decisions = await asyncio.gather(
        *(limiter.take("race", rate_per_second=0.01, burst=10) for _ in range(40))
    )
    assert sum(d.allowed for d in decisions) == 10


async def test_tokens_refill_at_the_configured_rate(redis: PipelinedRedis) -> None:
    limiter = RateLimiter(redis, prefix=_prefix())
    assert (await limiter.take("refill", rate_per_second=20.0, burst=1)).allowed
    assert not (await limiter.take("refill", rate_per_second=20.0, burst=1)).allowed
    await asyncio.sleep(0.08)
    assert (await limiter.take("refill", rate_per_second=20.0, burst=1)).allowed


async def test_redis_down_fails_open_and_is_counted() -> None:
    dead = PipelinedRedis("redis://127.0.0.1:1/0", connect_timeout=0.2)
    limiter = RateLimiter(dead, prefix=_prefix())
    decision = await limiter.take("x", rate_per_second=1.0, burst=1)
    await dead.aclose()
    assert decision.allowed and limiter.failures == 1


def test_bucket_keys_are_hash_tagged_by_source() -> None:
    assert bucket_key("ratelimit-tenant", "tnt_{a}") == "ratelimit-tenant:{tnt_a}"
