"""The gateway app: `uvicorn aos_gateway.main:create_app --factory`.

A pure-ASGI proxy (aos_gateway.proxy.asgi) in front of a small FastAPI app for the gateway's own
endpoints; request ids, problem+json and metrics come from aos_common like in every service.

This module is the top layer: it builds the typed state (aos_gateway.state), opens what the
lifespan needs, and wires the proxy to the routing through `GatewayState.routes`. Imports go only
downward (app -> runtime and reload -> middlewares -> proxy -> configuration), which
gateway/tests/test_layers.py checks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import Receive, Scope, Send

from aos_common.errors import install_problem_handlers
from aos_common.http_client import ServiceClient
from aos_common.metrics import Metrics, MetricsMiddleware
from aos_common.readiness import ReadinessProbes
from aos_common.request_context import RequestIdMiddleware
from aos_common.telemetry import (
    FASTAPI_NATIVE_TELEMETRY_OFF,
    configure_json_logging,
    setup_tracing,
)
from aos_gateway.api_document import MergedDocument
from aos_gateway.config import default_config_path, load_config
from aos_gateway.console.edge import ConsoleCookieEdge
from aos_gateway.console.session import router as console_session_router
from aos_gateway.console.static import router as console_static_router
from aos_gateway.endpoints import router as endpoints_router
from aos_gateway.metrics import GatewayMetrics
from aos_gateway.middlewares.auth import AuthCache
from aos_gateway.middlewares.ratelimit import RateLimiter
from aos_gateway.middlewares.usage import UsageMeter
from aos_gateway.proxy.asgi import ProxyMiddleware
from aos_gateway.proxy.h1client import H1Pool
from aos_gateway.redis_link import PipelinedRedis
from aos_gateway.reference.routes import router as reference_router
from aos_gateway.reload import RuntimeHolder
from aos_gateway.runtime import Deps
from aos_gateway.settings import GatewaySettings
from aos_gateway.state import GatewayState, Live, install_state

VERSION = "0.1.0"
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class GatewayApp(FastAPI):
    """The proxy in front of the whole FastAPI stack: a proxied request goes straight to it, and the
    framework's layers (error, request-id and metrics middlewares) serve only the gateway's own
    endpoints. The proxy already did what they add (request id, per-router metrics, a problem
    document on failure), so passing a proxied request through them was CPU spent for nothing on
    the hot path (issue 8's throughput target)."""

    def __init__(self, state: GatewayState, **options: Any) -> None:
        super().__init__(**options)
        install_state(self, state)
        proxy = ProxyMiddleware(
            super().__call__,
            state.routes,
            state.gateway_metrics,
            telemetry=state.settings.telemetry_enabled,
        )
        self._proxy = ConsoleCookieEdge(proxy, state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._proxy(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    config_path = _config_path(settings)
    load_config(config_path)  # a broken document is a start-up error, before anything listens
    _configure_process(settings)
    state = _new_state(settings)
    app = GatewayApp(
        state,
        title="AOS gateway",
        version=VERSION,
        lifespan=_lifespan(state, config_path),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # /openapi.json is the platform's merged document (reference.routes)
        telemetry=FASTAPI_NATIVE_TELEMETRY_OFF,
    )
    _install_endpoints(app, state)
    return app


def _config_path(settings: GatewaySettings) -> Path:
    return Path(settings.gateway_config) if settings.gateway_config else default_config_path()


def _configure_process(settings: GatewaySettings) -> None:
    """Logging and tracing, before uvicorn's start-up lines (which follow the factory call)."""
    if settings.environment != "test":
        configure_json_logging()
    if settings.telemetry_enabled:
        setup_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)


def _new_state(settings: GatewaySettings) -> GatewayState:
    metrics = Metrics(settings.service_name)
    return GatewayState(
        settings=settings,
        metrics=metrics,
        gateway_metrics=GatewayMetrics(metrics.registry),
        readiness=ReadinessProbes(),
    )


def _install_endpoints(app: FastAPI, state: GatewayState) -> None:
    """The gateway's own endpoints, behind the framework's middlewares (the proxy is in front)."""
    install_problem_handlers(app)
    app.include_router(endpoints_router)
    app.include_router(console_static_router)
    app.include_router(console_session_router)
    app.include_router(reference_router)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_middleware(RequestIdMiddleware)


def _lifespan(state: GatewayState, config_path: Path) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        async with AsyncExitStack() as stack:
            state.live = await _open_live(stack, state, config_path)
            try:
                yield
            finally:
                state.live = None  # requests still arriving fall through to a 503, not a crash

    return lifespan


async def _open_live(stack: AsyncExitStack, state: GatewayState, config_path: Path) -> Live:
    """Open the clients, the usage reporter and the routing; `stack` closes them in reverse."""
    settings = state.settings
    client = _health_client(settings)
    stack.push_async_callback(client.aclose)
    pool = _upstream_pool(settings)
    stack.push_async_callback(pool.aclose)
    redis = Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
    stack.push_async_callback(redis.aclose)
    request_path_redis = PipelinedRedis(settings.redis_url, connect_timeout=1, reply_timeout=1)
    stack.push_async_callback(request_path_redis.aclose)
    peers = _peers(settings)
    stack.push_async_callback(peers.aclose)
    usage = UsageMeter(
        redis,
        client,
        prefix=settings.gateway_redis_prefix,
        internal_secret=settings.internal_secret,
        interval=settings.usage_report_seconds,
    )
    usage.start()
    stack.push_async_callback(usage.stop)
    deps = Deps(
        settings=settings,
        client=client,
        pool=pool,
        limiter=RateLimiter(
            request_path_redis,
            prefix=settings.gateway_redis_prefix,
            on_fail_open=state.gateway_metrics.fail_open.labels("redis").inc,
        ),
        auth_cache=AuthCache(settings.auth_cache_seconds),
        peers=peers,
        metrics=state.gateway_metrics,
        usage=usage,
    )
    holder = RuntimeHolder(config_path, deps)
    holder.start(settings.gateway_reload_seconds)
    stack.push_async_callback(holder.stop)
    reference = MergedDocument(
        client,
        lambda: holder.current.services,
        version=VERSION,
        ttl_seconds=settings.openapi_cache_seconds,
    )
    return Live(holder=holder, redis=redis, peers=peers, reference=reference)


def _health_client(settings: GatewaySettings) -> httpx.AsyncClient:
    """For health checks, usage reports and the services' documents: a fresh connection per
    call, so a probe never races an upstream closing an idle keep-alive connection (which would
    mark a healthy server down)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.upstream_timeout_seconds,
            connect=settings.upstream_connect_timeout_seconds,
            pool=settings.upstream_connect_timeout_seconds,
        ),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
        follow_redirects=False,
    )


def _upstream_pool(settings: GatewaySettings) -> H1Pool:
    """The proxy's pooled HTTP/1.1 client (h1client.py says why it is not httpx)."""
    return H1Pool(
        connect_timeout=settings.upstream_connect_timeout_seconds,
        read_timeout=settings.upstream_timeout_seconds,
        max_idle_per_origin=settings.upstream_max_keepalive,
        idle_expiry=settings.upstream_keepalive_seconds,
        max_connections_per_origin=settings.upstream_max_connections,
        pool_wait=settings.upstream_pool_wait_seconds,
    )


def _peers(settings: GatewaySettings) -> ServiceClient:
    """The budget guard's and the console sign-in's client for the services' internal routes."""
    return ServiceClient(
        service_name=settings.service_name,
        base_urls=settings.peer_urls(),
        internal_secret=settings.internal_secret,
        timeout=settings.budget_timeout_seconds,
        max_attempts=1,
    )
