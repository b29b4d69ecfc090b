"""inFlightReq: a tenant's concurrency share, counted per tenant and per upstream service."""

from __future__ import annotations

import asyncio

import orjson

from aos_gateway.config.models import InFlightReq, SourceCriterion
from aos_gateway.middlewares.basic import InFlightReqMiddleware
from aos_gateway.proxy.types import Body, Headers, ProxyRequest, ProxyResponse


def _request(tenant: str, service: str) -> ProxyRequest:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    return ProxyRequest(
        "GET",
        "/api/v1/x",
        b"",
        Headers([("x-aos-tenant-id", tenant)]),
        Body(receive, None, False),
        "http",
        "h",
        "127.0.0.1",
        "req-test",
        service=service,
    )


async def test_share_is_per_tenant_and_per_service() -> None:
    spec = InFlightReq(
        amount=2, sourceCriterion=SourceCriterion(requestHeaderName="X-AOS-Tenant-Id")
    )
    middleware = InFlightReqMiddleware(spec)
    release = asyncio.Event()

    async def slow(_: ProxyRequest) -> ProxyResponse:
        await release.wait()
        return ProxyResponse(200, Headers())

    async def fast(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(200, Headers())

    held = [asyncio.create_task(middleware(_request("tnt_b", "traces"), slow)) for _ in range(2)]
    await asyncio.sleep(0)
    refused = await middleware(_request("tnt_b", "traces"), fast)
    elsewhere = await middleware(_request("tnt_b", "cost-intel"), fast)
    neighbour = await middleware(_request("tnt_a", "traces"), fast)
    release.set()
    assert [r.status for r in await asyncio.gather(*held)] == [200, 200]
    assert refused.status == 429
    assert refused.headers.get("retry-after") == "1"
    assert refused.headers.get("content-type") == "application/problem+json"
    detail = orjson.loads(refused.body)["detail"]  # type: ignore[arg-type]
    assert detail.startswith("Too many concurrent requests to traces (at most 2 at a time)")
    assert (elsewhere.status, neighbour.status) == (200, 200)
