"""Load-balanced services: round robin over healthy servers, active health checks, passive ejection,
and the forwarding itself (streamed both ways over the pooled keep-alive h1client.H1Pool).

Failure mapping (API.md): no server reachable -> 503 "Upstream <service> unavailable" with
Retry-After; every connection the pool may open to the server in use past the wait -> 503 "busy"
with Retry-After (no ejection: the server is fine, the gateway is holding back); no response head
within the timeout -> 504; a broken upstream response -> 502.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from aos_gateway.config.models import HealthCheck, Service
from aos_gateway.proxy.h1client import (
    H1Pool,
    UpstreamBusy,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from aos_gateway.proxy.types import Headers, ProxyRequest, ProxyResponse, problem

logger = logging.getLogger("aos.gateway.upstream")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

_NOT_RELAYED = HOP_BY_HOP | {"date", "server"}
_NOT_FORWARDED = HOP_BY_HOP | {"host", "expect"}


@dataclass
class ServerState:
    url: str
    healthy: bool = True
    ejected_until: float = 0.0
    last_probe: str = ""

    def available(self, now: float) -> bool:
        return self.healthy and self.ejected_until <= now


class ServiceRuntime:
    """One `loadBalancer` service: its servers' health and the forwarding to them."""

    def __init__(
        self,
        service: Service,
        client: httpx.AsyncClient,
        pool: H1Pool,
        *,
        ejection_seconds: float,
        retry_after_seconds: float = 1.0,
    ) -> None:
        self.name = service.name
        self.spec = service
        self.client = client
        self.pool = pool
        self.servers = [
            ServerState(server.url.rstrip("/")) for server in service.load_balancer.servers
        ]
        self._next = 0
        self._ejection_seconds = ejection_seconds
        self._retry_after = retry_after_seconds
        self._health_task: asyncio.Task[None] | None = None

    # --- selection and health -------------------------------------------------------------------

    def pick(self) -> ServerState | None:
        now = time.monotonic()
        count = len(self.servers)
        for offset in range(count):
            server = self.servers[(self._next + offset) % count]
            if server.available(now):
                self._next = (self._next + offset + 1) % count
                return server
        return None

    def eject(self, server: ServerState) -> None:
        """Passive health: a server that refused a connection sits out until it proves healthy."""
        server.ejected_until = time.monotonic() + self._ejection_seconds
        logger.warning(
            "ejected %s server %s for %.1fs", self.name, server.url, self._ejection_seconds
        )

    def adopt_state(self, previous: ServiceRuntime) -> None:
        """Keep what a reload's predecessor learnt about servers that still exist."""
        known = {server.url: server for server in previous.servers}
        for server in self.servers:
            if server.url in known:
                server.healthy = known[server.url].healthy
                server.ejected_until = known[server.url].ejected_until

    def health_url(self, server: ServerState, check: HealthCheck) -> str:
        parts = urlsplit(server.url)
        netloc = parts.netloc
        if check.port is not None:
            netloc = f"{parts.hostname}:{check.port}"
        return urlunsplit((check.scheme or parts.scheme, netloc, check.path, "", ""))

    async def probe(self, server: ServerState, check: HealthCheck | None) -> bool:
        check = check or HealthCheck(path="/healthz")
        headers = dict(check.headers)
        if check.hostname:
            headers["host"] = check.hostname
        try:
            response = await self.client.request(
                check.method,
                self.health_url(server, check),
                headers=headers,
                timeout=check.timeout_seconds,
                follow_redirects=check.follow_redirects,
            )
        except httpx.HTTPError as error:
            server.last_probe = f"{type(error).__name__}: {error}"
            return False
        server.last_probe = f"HTTP {response.status_code}"
        return 200 <= response.status_code < 400

    async def check_once(self) -> None:
        check = self.spec.load_balancer.health_check
        results = await asyncio.gather(*(self.probe(server, check) for server in self.servers))
        for server, healthy in zip(self.servers, results, strict=True):
            if healthy != server.healthy:
                logger.warning(
                    "%s server %s is %s (%s)",
                    self.name,
                    server.url,
                    "healthy" if healthy else "unhealthy",
                    server.last_probe,
                )
            server.healthy = healthy
            if healthy:
                server.ejected_until = 0.0

    async def _health_loop(self, interval: float) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # a health loop must outlive any single failure
                logger.exception("health check of %s failed", self.name)
            await asyncio.sleep(interval)

    def start(self) -> None:
        check = self.spec.load_balancer.health_check
        if check is not None and self._health_task is None:
            self._health_task = asyncio.create_task(
                self._health_loop(max(check.interval_seconds, 0.05)), name=f"health:{self.name}"
            )

    async def stop(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None

    # --- forwarding ---------------------------------------------------------------------------

    def unavailable(self, request: ProxyRequest) -> ProxyResponse:
        return problem(
            request,
            503,
            f"Upstream {self.name} unavailable",
            retry_after=self._retry_after,
            upstream_error="connect",
        )

    def _upstream_headers(
        self, request: ProxyRequest, server: ServerState
    ) -> list[tuple[str, str]]:
        headers = [(k, v) for k, v in request.headers.items if k not in _NOT_FORWARDED]
        if self.spec.load_balancer.pass_host_header and request.host:
            headers.append(("host", request.host))
        else:
            headers.append(("host", _netloc(server.url)))
        return headers

    async def forward(self, request: ProxyRequest) -> ProxyResponse:
        server = self.pick()
        if server is None:
            return self.unavailable(request)
        target = request.target_path
        if request.query_string:
            target += "?" + request.query_string.decode("latin-1")
        try:
            response = await self.pool.request(
                request.method,
                server.url,
                target,
                self._upstream_headers(request, server),
                request.body.content(),
            )
        except UpstreamBusy:
            return problem(
                request,
                503,
                f"Upstream {self.name} busy: every connection the gateway may open to it is in "
                "use; retry shortly",
                retry_after=self._retry_after,
            )
        except UpstreamConnectError:
            self.eject(server)
            return self.unavailable(request)
        except UpstreamTimeout:
            return problem(
                request, 504, f"Upstream {self.name} timed out", upstream_error="timeout"
            )
        except UpstreamProtocolError as error:
            logger.warning("upstream %s failed: %s", self.name, error)
            return problem(
                request,
                502,
                f"Upstream {self.name} returned an invalid response",
                upstream_error="protocol",
            )
        except ConnectionError:
            return problem(request, 400, "Client closed the request")
        decoded = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in response.headers
        ]
        headers = Headers([item for item in decoded if item[0] not in _NOT_RELAYED])
        if response.has_length and request.method != "HEAD":
            # Already here whole: sent as one message, not through a stream (same bytes on the
            # wire, one pass through the ASGI send chain fewer).
            body = await response.take_arrived_body()
            if body is not None:
                return ProxyResponse(response.status, headers, body)
        return ProxyResponse(response.status, headers, response.aiter_raw(), close=response.aclose)


@functools.lru_cache(maxsize=256)
def _netloc(url: str) -> str:
    return urlsplit(url).netloc
