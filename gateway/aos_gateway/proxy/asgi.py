"""The ASGI entry of the proxy: match a router, run its middlewares, stream the answer back.

It sits in front of the whole stack of the small FastAPI app that serves the gateway's own
endpoints (/healthz, /readyz, /metrics, the console, the API reference); anything no router
matches falls through to that app. A proxied request never enters the framework's middleware
layers: the proxy sets its request id itself (echoed on the response, as RequestIdMiddleware does
for the gateway's own endpoints) and records it in its own per-router metrics.

The proxy is the bottom layer of the request path: it knows the routing it is given only through
the `RouteTable` and `Route` protocols below (aos_gateway.runtime builds the real ones), so it
imports nothing from the middlewares, the runtime, the reload or the app above it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aos_common.errors import PROBLEM_CONTENT_TYPE, problem_body
from aos_common.request_context import request_id_of, request_id_var, tenant_id_var
from aos_gateway.metrics import GatewayMetrics
from aos_gateway.proxy.h1client import UpstreamProtocolError, UpstreamTimeout
from aos_gateway.proxy.tracecontext import continue_trace, start_gateway_span
from aos_gateway.proxy.types import (
    Body,
    Handler,
    Headers,
    ProxyRequest,
    ProxyResponse,
    problem,
)
from aos_gateway.rules import RequestInfo

logger = logging.getLogger("aos.gateway")

OWN_PATHS = frozenset(
    {"/", "/healthz", "/readyz", "/metrics", "/favicon.ico", "/openapi.json", "/docs"}
)
OWN_PREFIXES = ("/console/", "/docs/")
_GATEWAY_ONLY = ("x-aos-",)
_CREDENTIAL = "x-aos-key"
# Set by the gateway itself on every proxied request (client values are replaced).
_GATEWAY_SET = frozenset(
    {"x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"}
)
_STRIPPED = frozenset({"x-forwarded-prefix"})
# What no resource name holds and no upstream request line may carry once decoded (%00, %0A...).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _client_headers(raw: list[tuple[bytes, bytes]]) -> Headers:
    """The client's headers minus everything only the gateway may set: every X-AOS-* header but the
    X-AOS-Key credential (signed context, internal secret, resolved identity, budget marker)."""
    items: list[tuple[str, str]] = []
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        if (name.startswith(_GATEWAY_ONLY) and name != _CREDENTIAL) or name in _STRIPPED:
            continue
        items.append((name, value_bytes.decode("latin-1")))
    return Headers(items)


class Route(Protocol):
    """A router as the proxy sees it: its names (for metrics and logs) and its middleware chain."""

    @property
    def name(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def handler(self) -> Handler: ...


class RouteTable(Protocol):
    def match(self, request: RequestInfo) -> Route | None: ...


class ProxyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        routes: Callable[[], RouteTable | None],
        metrics: GatewayMetrics,
        *,
        telemetry: bool,
    ) -> None:
        """`routes` gives the routing in force at each request (None: not started, everything
        falls through to `app`); a reload swaps what it returns, never the proxy."""
        self.app = app
        self.routes = routes
        self.metrics = metrics
        self.telemetry = telemetry
        # Labelled metric children, looked up once per (router, service[, status]).
        self._latency: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in OWN_PATHS or path.startswith(OWN_PREFIXES):
            await self.app(scope, receive, send)
            return
        runtime = self.routes()
        if runtime is None:
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path")
        raw = raw_path.decode("latin-1") if raw_path else ""
        if _CONTROL.search(path):
            await _refuse(
                send,
                scope["headers"],
                raw or path,
                "The request path contains a control character (such as %00 or %0A), "
                "which no resource name holds.",
            )
            return
        headers = _client_headers(scope["headers"])
        host = headers.get("host") or ""
        client = scope.get("client")
        client_ip = client[0] if client else ""
        query_string: bytes = scope.get("query_string", b"")
        info = RequestInfo(
            method=scope["method"],
            path=path,
            host=host,
            headers=dict(headers.items),
            query=parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
            if query_string
            else {},
            client_ip=client_ip,
        )
        router = None if path.startswith("/internal/") else runtime.match(info)
        if router is None:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        request_id_token = request_id_var.set(request_id)
        tenant_token = tenant_id_var.set(None)
        try:
            await self._proxy(scope, receive, send, router, headers, info, request_id, raw)
        finally:
            request_id_var.reset(request_id_token)
            tenant_id_var.reset(tenant_token)

    async def _proxy(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        router: Route,
        headers: Headers,
        info: RequestInfo,
        request_id: str,
        raw_path: str,
    ) -> None:
        path = info.path
        host = info.host
        client_ip = info.client_ip
        query_string: bytes = scope.get("query_string", b"")
        scheme = scope.get("scheme", "http")
        items = [item for item in headers.items if item[0] not in _GATEWAY_SET]
        items += [
            ("x-request-id", request_id),
            ("x-forwarded-for", client_ip),
            ("x-forwarded-proto", scheme),
            ("x-forwarded-host", host),
            ("x-real-ip", client_ip),
        ]
        headers.items = items
        length_header = headers.get("content-length")
        try:
            declared = int(length_header) if length_header is not None else None
        except ValueError:
            declared = None
        chunked = "chunked" in (headers.get("transfer-encoding") or "").lower()
        request = ProxyRequest(
            method=scope["method"],
            path=path,
            query_string=query_string,
            headers=headers,
            body=Body(receive, declared, chunked),
            scheme=scheme,
            host=host,
            client_ip=client_ip,
            request_id=request_id,
            router=router.name,
            service=router.service,
            raw_path=raw_path,
        )
        metrics = self.metrics
        started = time.perf_counter()
        if self.telemetry:
            with start_gateway_span(headers, router.name, request.method):
                response = await _handle(router.handler, request)
        else:
            continue_trace(headers)
            response = await _handle(router.handler, request)
        elapsed = time.perf_counter() - started
        latency = self._latency.get((router.name, router.service))
        if latency is None:
            latency = metrics.latency.labels(router.name, router.service)
            self._latency[(router.name, router.service)] = latency
        latency.observe(elapsed)
        counter_key = (router.name, router.service, response.status)
        counter = self._requests.get(counter_key)
        if counter is None:
            counter = metrics.requests.labels(router.name, router.service, str(response.status))
            self._requests[counter_key] = counter
        counter.inc()
        response.headers.set("x-request-id", request_id)
        await _send(response, send, head_only=request.method == "HEAD")


async def _refuse(
    send: Send, raw_headers: list[tuple[bytes, bytes]], instance: str, detail: str
) -> None:
    """A 400 problem for a request the server parsed but the gateway cannot forward as it is."""
    request_id = request_id_of(raw_headers)
    body = problem_body(400, detail, instance=instance)
    body["request_id"] = request_id
    content = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(content)).encode()),
                (b"x-request-id", request_id.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _handle(handler: Handler, request: ProxyRequest) -> ProxyResponse:
    try:
        return await handler(request)
    except Exception:
        logger.exception("gateway failure on %s %s", request.method, request.path)
        return problem(
            request, 500, "An internal error occurred; the request id identifies it in the logs."
        )


async def _send(response: ProxyResponse, send: Send, *, head_only: bool) -> None:
    body = response.body
    if isinstance(body, bytes) and "content-length" not in response.headers:
        response.headers.set("content-length", str(len(body)))
    start: Message = {
        "type": "http.response.start",
        "status": response.status,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items],
    }
    if isinstance(body, bytes):
        await send(start)
        await send({"type": "http.response.body", "body": b"" if head_only else body})
        return
    try:
        await send(start)
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except (UpstreamProtocolError, UpstreamTimeout) as error:
        logger.warning("upstream stream broke after the response head: %s", error)
    finally:
        await response.discard()
