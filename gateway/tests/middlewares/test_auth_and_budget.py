"""forward-auth and the budget guard when their dependency cannot answer (in-process, real sockets)."""

from __future__ import annotations

import socket
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from aos_common.auth import Principal
from aos_common.http_client import ServiceClient
from aos_gateway.config.models import ForwardAuth
from aos_gateway.middlewares.auth import AuthCache, ForwardAuthMiddleware
from aos_gateway.middlewares.limits import BudgetGuardMiddleware
from aos_gateway.middlewares.ratelimit import RateLimiter
from aos_gateway.proxy.h1client import H1Pool
from aos_gateway.proxy.types import Body, Headers, ProxyRequest, ProxyResponse
from aos_gateway.redis_link import PipelinedRedis


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(principal: Principal | None = None) -> ProxyRequest:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    request = ProxyRequest(
        "POST",
        "/api/v1/runs",
        b"",
        Headers([("x-aos-key", "aos_k")]),
        Body(receive, None, False),
        "http",
        "h",
        "127.0.0.1",
        "req-test",
    )
    request.principal = principal
    return request


async def _ok(_: ProxyRequest) -> ProxyResponse:
    return ProxyResponse(200, Headers())


async def test_unreachable_forward_auth_answers_503_naming_the_service(redis_url: str) -> None:
    redis = PipelinedRedis(redis_url)
    middleware = ForwardAuthMiddleware(
        ForwardAuth(address=f"http://127.0.0.1:{_closed_port()}/internal/v1/auth/forward"),
        pool=H1Pool(connect_timeout=0.5, read_timeout=1.0),
        cache=AuthCache(0),
        limiter=RateLimiter(redis),
        internal_secret="s" * 32,
        timeout=1.0,
        upstream_name="tenants",
    )
    response = await middleware(_request(), _ok)
    await redis.aclose()
    assert response.status == 503
    assert b"Upstream tenants unavailable" in response.body  # type: ignore[operator]
    assert response.headers.get("retry-after") == "1"


async def test_budget_guard_passes_an_unseen_tenant_to_the_service_counted_when_cost_intel_is_down() -> (
    None
):
    client = ServiceClient(
        service_name="gateway",
        base_urls={"cost-intel": f"http://127.0.0.1:{_closed_port()}"},
        internal_secret="s" * 32,
        timeout=0.5,
        max_attempts=1,
    )
    counted: list[int] = []
    guard = BudgetGuardMiddleware(client, on_fail_open=lambda: counted.append(1))
    principal = Principal(tenant_id="tnt_x", principal_id="p", principal_type="api_key")
    response = await guard(_request(principal), _ok)
    await client.aclose()
    assert response.status == 200
    assert counted == [1]


def _cost_intel(policy: str, up: list[bool]) -> ServiceClient:
    """A client of a small cost-intel guard (in-process ASGI) that answers 503 while `up[0]`
    is False."""
    app = FastAPI()

    @app.get("/internal/v1/cost/guard")
    async def guard() -> Any:
        if not up[0]:
            return JSONResponse({"detail": "down"}, status_code=503)
        return {"allowed": True, "reason": "Within budget", "on_unavailable": policy}

    return ServiceClient(
        service_name="gateway",
        base_urls={"cost-intel": "http://cost-intel"},
        internal_secret="s" * 32,
        max_attempts=1,
        transports={"cost-intel": httpx.ASGITransport(app=app)},
    )


async def test_budget_guard_answers_503_when_cost_intel_is_down_and_the_budget_says_deny() -> None:
    up = [True]
    client = _cost_intel("deny", up)
    counted: list[int] = []
    guard = BudgetGuardMiddleware(client, on_fail_open=lambda: counted.append(1))
    principal = Principal(tenant_id="tnt_x", principal_id="p", principal_type="api_key")
    assert (await guard(_request(principal), _ok)).status == 200
    up[0] = False
    response = await guard(_request(principal), _ok)
    await client.aclose()
    assert response.status == 503
    assert b"on_unavailable: deny" in response.body  # type: ignore[operator]
    assert counted == []


async def test_budget_guard_lets_a_remembered_allow_through_counted_when_cost_intel_is_down() -> (
    None
):
    up = [True]
    client = _cost_intel("allow", up)
    counted: list[int] = []
    guard = BudgetGuardMiddleware(client, on_fail_open=lambda: counted.append(1))
    principal = Principal(tenant_id="tnt_y", principal_id="p", principal_type="api_key")
    await guard(_request(principal), _ok)
    up[0] = False
    response = await guard(_request(principal), _ok)
    await client.aclose()
    assert response.status == 200
    assert counted == [1]


async def test_budget_guard_skips_requests_without_a_principal() -> None:
    client = ServiceClient(service_name="gateway", base_urls={}, internal_secret="s" * 32)
    guard = BudgetGuardMiddleware(client)
    assert (await guard(_request(None), _ok)).status == 200
    await client.aclose()
