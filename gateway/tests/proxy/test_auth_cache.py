"""The forward-auth grant cache (on by default) through a real gateway process and stand-ins: a
cached request skips the auth call but is still metered exactly once, refusals are never cached, and
the per-key rate limit holds on cached grants."""

from __future__ import annotations

import secrets
import socket
import time

import httpx
from gateway_testing.stacks import SECRET, Stack
from redis.asyncio import Redis

from aos_gateway.config.models import ForwardAuth
from aos_gateway.middlewares.auth import AuthCache, ForwardAuthMiddleware
from aos_gateway.middlewares.ratelimit import RateLimiter
from aos_gateway.middlewares.usage import UsageMeter
from aos_gateway.proxy.h1client import H1Pool
from aos_gateway.proxy.types import Body, Headers, ProxyRequest, ProxyResponse
from aos_gateway.redis_link import PipelinedRedis

METER = {"X-AOS-Key": "aos_meter"}


def _stats(platform: Stack) -> dict[str, int]:
    return dict(httpx.get(platform.urls["tenants"] + "/_mode").json()["stats"])


def _counted(platform: Stack, credential: str, key_id: str) -> tuple[int, int]:
    """(auth calls the stand-in answered, requests the gateway reported) for one key."""
    stats = _stats(platform)
    return stats.get(f"auth:{credential}", 0), stats.get(f"usage:tnt_meter:{key_id}", 0)


def _settled(platform: Stack, credential: str, key_id: str, total: int) -> tuple[int, int]:
    deadline = time.monotonic() + 10
    counted = _counted(platform, credential, key_id)
    while sum(counted) < total and time.monotonic() < deadline:
        time.sleep(0.1)
        counted = _counted(platform, credential, key_id)
    return counted


def test_cached_grants_skip_the_auth_call_and_every_request_is_counted_once(
    platform: Stack,
) -> None:
    with httpx.Client(base_url=platform.url, headers=METER) as client:
        for _ in range(20):
            response = client.get("/api/v1/traces")
            assert response.status_code == 200
            assert response.json()["headers"]["x-aos-tenant-id"] == "tnt_meter"
    asked, reported = _settled(platform, "aos_meter", "key_meter", 20)
    assert asked + reported == 20
    assert asked < 20 and reported > 0
    time.sleep(1.5)  # a later report must not count anything again
    assert sum(_counted(platform, "aos_meter", "key_meter")) == 20


def test_refusals_are_never_cached(platform: Stack) -> None:
    before = _stats(platform)
    for _ in range(3):
        response = httpx.get(
            platform.url + "/api/v1/cost/summary", headers={"X-AOS-Key": "aos_forbidden"}
        )
        assert response.status_code == 403
        assert (
            httpx.get(
                platform.url + "/api/v1/traces", headers={"X-AOS-Key": "aos_nope"}
            ).status_code
            == 401
        )
    after = _stats(platform)
    assert after["auth:aos_forbidden"] - before.get("auth:aos_forbidden", 0) == 3
    assert after["auth:aos_nope"] - before.get("auth:aos_nope", 0) == 3


def test_key_rate_limit_holds_on_cached_grants_and_limited_requests_are_counted(
    platform: Stack,
) -> None:
    headers = {"X-AOS-Key": "aos_meter_limited"}
    with httpx.Client(base_url=platform.url, headers=headers) as client:
        statuses = [client.get("/api/v1/audit/entries") for _ in range(6)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 200, 429, 429]
    assert int(statuses[4].headers["retry-after"]) >= 1
    assert statuses[4].json()["detail"] == "API key rate limit exceeded (4 requests per minute)"
    asked, reported = _settled(platform, "aos_meter_limited", "key_meter_limited", 6)
    assert asked + reported == 6 and reported > 0


def test_different_credentials_never_share_a_cached_grant(platform: Stack) -> None:
    with httpx.Client(base_url=platform.url) as client:
        for _ in range(5):
            for key, tenant in (("aos_good", "tnt_a"), ("aos_meter", "tnt_meter")):
                seen = client.get("/api/v1/traces", headers={"X-AOS-Key": key}).json()
                assert seen["headers"]["x-aos-tenant-id"] == tenant
            seen = client.get("/api/v1/traces", headers={"Authorization": "Bearer aos_good"}).json()
            assert seen["headers"]["x-aos-tenant-id"] == "tnt_a"


async def _asked(platform: Stack, redis_url: str, client: httpx.AsyncClient) -> int:
    """Forward-auth calls made for three requests with the same key, through a fresh middleware."""
    address = platform.urls["tenants"] + "/internal/v1/auth/forward"
    request_path_redis = PipelinedRedis(redis_url, connect_timeout=0.5)
    reporter_redis = Redis.from_url(redis_url, socket_connect_timeout=0.5)
    middleware = ForwardAuthMiddleware(
        ForwardAuth(
            address=address,
            auth_response_headers=["X-AOS-Tenant-Id", "X-AOS-Context", "X-AOS-Context-Signature"],
        ),
        pool=H1Pool(connect_timeout=1.0, read_timeout=2.0),
        cache=AuthCache(5),
        limiter=RateLimiter(request_path_redis, prefix=f"aos:gwtest:{secrets.token_hex(4)}"),
        internal_secret=SECRET,
        timeout=2.0,
        upstream_name="tenants",
        meter=UsageMeter(
            reporter_redis,
            client,
            prefix=f"aos:gwtest:{secrets.token_hex(4)}",
            internal_secret=SECRET,
        ),
    )
    before = _counted(platform, "aos_meter", "key_meter")[0]
    for _ in range(3):
        response = await middleware(_request("aos_meter"), _ok)
        assert response.status == 200
    await middleware.pool.aclose()
    await request_path_redis.aclose()
    await reporter_redis.aclose()
    return _counted(platform, "aos_meter", "key_meter")[0] - before


async def test_a_cache_hit_redis_cannot_count_asks_forward_auth_instead(
    platform: Stack, redis_url: str
) -> None:
    """Redis down: a hit is not lost to metering, forward-auth is asked (and counts) again."""
    async with httpx.AsyncClient() as client:
        assert await _asked(platform, redis_url, client) == 1
        assert await _asked(platform, f"redis://127.0.0.1:{_closed_port()}/0", client) == 3


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(key: str) -> ProxyRequest:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    return ProxyRequest(
        "GET",
        "/api/v1/traces",
        b"",
        Headers([("x-aos-key", key)]),
        Body(receive, None, False),
        "http",
        "h",
        "127.0.0.1",
        "req-test",
    )


async def _ok(_: ProxyRequest) -> ProxyResponse:
    return ProxyResponse(200, Headers())
