"""forward-auth's concurrency share per credential: the tenant is not known before auth, so the
calls to forward-auth are bounded per credential presented (in-process, a real socket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from aos_gateway.config.models import ForwardAuth
from aos_gateway.middlewares.auth import AuthCache, ForwardAuthMiddleware
from aos_gateway.middlewares.ratelimit import RateLimiter
from aos_gateway.proxy.h1client import H1Pool
from aos_gateway.proxy.types import Body, Headers, ProxyRequest, ProxyResponse
from aos_gateway.redis_link import PipelinedRedis

REFUSAL = b'{"status":401,"detail":"Invalid API key"}'


class SlowAuth:
    """A forward-auth that holds every call until released, then refuses it (401); it records
    the most calls it had in flight at once per key."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0
        self.in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}
        self._arrived = asyncio.Condition()

    async def reached(self, calls: int) -> None:
        async with asyncio.timeout(10), self._arrived:
            await self._arrived.wait_for(lambda: self.calls >= calls)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        key = head.split("x-aos-key: ", 1)[1].split("\r\n", 1)[0]
        async with self._arrived:
            self.calls += 1
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
            self.most_in_flight[key] = max(self.most_in_flight.get(key, 0), self.in_flight[key])
            self._arrived.notify_all()
        await self.release.wait()
        self.in_flight[key] -= 1
        writer.write(
            b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/problem+json\r\n"
            + f"content-length: {len(REFUSAL)}\r\n\r\n".encode()
            + REFUSAL
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def slow_auth() -> AsyncIterator[tuple[SlowAuth, str]]:
    auth = SlowAuth()
    server = await asyncio.start_server(auth.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield auth, f"http://127.0.0.1:{port}/internal/v1/auth/forward"
    auth.release.set()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[PipelinedRedis]:
    link = PipelinedRedis(redis_url)
    yield link
    await link.aclose()


@pytest.fixture
async def pool() -> AsyncIterator[H1Pool]:
    h1 = H1Pool(connect_timeout=1.0, read_timeout=10.0)
    yield h1
    await h1.aclose()


def _middleware(
    address: str, pool: H1Pool, redis: PipelinedRedis, *, share_wait: float
) -> ForwardAuthMiddleware:
    return ForwardAuthMiddleware(
        ForwardAuth(address=address),
        pool=pool,
        cache=AuthCache(0),
        limiter=RateLimiter(redis),
        internal_secret="s" * 32,
        timeout=10.0,
        upstream_name="tenants",
        share=2,
        share_wait=share_wait,
    )


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


async def test_a_credential_asks_at_most_its_share_at_once_while_others_still_ask(
    slow_auth: tuple[SlowAuth, str], pool: H1Pool, redis: PipelinedRedis
) -> None:
    auth, address = slow_auth
    middleware = _middleware(address, pool, redis, share_wait=10.0)
    flood = [asyncio.create_task(middleware(_request("aos_flood"), _ok)) for _ in range(5)]
    await auth.reached(2)
    other = asyncio.create_task(middleware(_request("aos_other"), _ok))
    await auth.reached(3)  # the other credential asked while the flood's three waited
    auth.release.set()
    answers = await asyncio.wait_for(asyncio.gather(*flood, other), 10)
    assert [answer.status for answer in answers] == [401] * 6
    assert auth.most_in_flight == {"aos_flood": 2, "aos_other": 1}
    assert middleware.share.keys == 0


async def test_a_request_waiting_past_the_bound_for_its_credentials_share_is_429(
    slow_auth: tuple[SlowAuth, str], pool: H1Pool, redis: PipelinedRedis
) -> None:
    auth, address = slow_auth
    middleware = _middleware(address, pool, redis, share_wait=0.2)
    held = [asyncio.create_task(middleware(_request("aos_flood"), _ok)) for _ in range(2)]
    await auth.reached(2)
    refused = await asyncio.wait_for(middleware(_request("aos_flood"), _ok), 5)
    auth.release.set()
    await asyncio.wait_for(asyncio.gather(*held), 10)
    assert refused.status == 429
    assert refused.headers.get("retry-after") == "1"
    detail = orjson.loads(refused.body)["detail"]  # type: ignore[arg-type]
    assert detail.startswith("Too many concurrent requests with this credential")
    assert auth.calls == 2
