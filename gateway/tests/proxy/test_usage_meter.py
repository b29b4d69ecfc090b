"""The usage meter: names, and batches that survive a refused report (real Redis, real stand-in)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest
from gateway_testing.stacks import SECRET, Stack
from redis.asyncio import Redis

from aos_common.auth import Principal, operator_principal
from aos_gateway.middlewares.ratelimit import RateLimiter
from aos_gateway.middlewares.usage import UsageMeter, usage_address, usage_field
from aos_gateway.redis_link import PipelinedRedis


def test_the_usage_route_is_the_sibling_of_the_forward_auth_route() -> None:
    assert (
        usage_address("http://tenants:8001/internal/v1/auth/forward?x=1")
        == "http://tenants:8001/internal/v1/auth/usage"
    )


def test_fields_name_tenant_and_key_and_operators_are_not_metered() -> None:
    key = Principal(
        tenant_id="tnt_a", principal_id="key_1", principal_type="api_key", key_id="key_1"
    )
    user = Principal(tenant_id="tnt_a", principal_id="user_1", principal_type="user")
    assert usage_field(key) == '["tnt_a","key_1"]'
    assert usage_field(user) == '["tnt_a",null]'
    assert usage_field(operator_principal()) is None


SetMode = Callable[..., dict[str, int]]


@pytest.fixture
def standin_mode(platform: Stack) -> Iterator[SetMode]:
    """Switches of the tenants stand-in (answers to usage reports); returns its counters."""

    def set_mode(**values: int) -> dict[str, int]:
        query = "&".join(f"{k}={v}" for k, v in values.items())
        return dict(httpx.get(f"{platform.urls['tenants']}/_mode?{query}").json()["stats"])

    yield set_mode
    set_mode(usage_status=200)


async def test_a_refused_batch_stays_in_redis_and_is_sent_once_accepted(
    platform: Stack, redis_url: str, standin_mode: SetMode
) -> None:
    redis = Redis.from_url(redis_url)
    prefix = f"aos:gwtest:{secrets.token_hex(4)}"
    tenant = f"tnt_{secrets.token_hex(4)}"
    field = usage_field(
        Principal(tenant_id=tenant, principal_id="key_r", principal_type="api_key", key_id="key_r")
    )
    assert field is not None
    async with httpx.AsyncClient() as client:
        meter = UsageMeter(redis, client, prefix=prefix, internal_secret=SECRET)
        counter = meter.counter(platform.urls["tenants"] + "/internal/v1/auth/forward")
        limiter = RateLimiter(PipelinedRedis(redis_url), prefix=prefix)
        for _ in range(7):
            assert await limiter.count_and_take(counter, field, None, rate_per_second=0, burst=0)
        standin_mode(usage_status=503)
        assert await meter.report() == 0
        await limiter.count_and_take(counter, field, None, rate_per_second=0, burst=0)
        assert await meter.report() == 0  # two batches now wait: 7 and 1
        stats = standin_mode(usage_status=200)
        assert stats.get(f"usage:{tenant}:key_r", 0) == 0
        assert await meter.report() == 2
        assert await meter.report() == 0
    stats = standin_mode()
    assert stats[f"usage:{tenant}:key_r"] == 8
    assert await redis.keys(f"{prefix}:usage:*") == []
    await redis.aclose()
