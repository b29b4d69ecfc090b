"""A service whose every allowed connection is in use: the request past the cap is answered
503 "busy" with Retry-After once the wait is over, and the server is not ejected (real sockets)."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from aos_gateway.config.models import LoadBalancer, Server, Service
from aos_gateway.proxy.h1client import H1Pool
from aos_gateway.proxy.types import Body, Headers, ProxyRequest
from aos_gateway.proxy.upstream import ServiceRuntime


def _request() -> ProxyRequest:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    return ProxyRequest(
        "GET", "/x", b"", Headers(), Body(receive, None, False), "http", "h", "127.0.0.1", "req"
    )


async def test_a_request_past_the_connection_cap_is_a_503_busy_and_the_server_stays_in() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(2)

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    pool = H1Pool(
        connect_timeout=1.0, read_timeout=3.0, max_connections_per_origin=1, pool_wait=0.2
    )
    async with httpx.AsyncClient() as client:
        service = ServiceRuntime(
            Service(name="slow", load_balancer=LoadBalancer(servers=[Server(url=url)])),
            client,
            pool,
            ejection_seconds=30,
        )
        first = asyncio.create_task(service.forward(_request()))
        try:
            await asyncio.sleep(0.1)  # the one connection allowed is in use
            response = await service.forward(_request())
        finally:
            first.cancel()
            await pool.aclose()
            server.close()
    assert response.status == 503
    assert response.headers.get("retry-after") == "1"
    assert isinstance(response.body, bytes)
    assert "Upstream slow busy" in orjson.loads(response.body)["detail"]
    assert service.servers[0].available(0.0) and service.servers[0].ejected_until == 0.0
