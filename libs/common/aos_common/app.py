"""The one app factory: every service is this plus its routers and lifespan hooks.

Engines, Redis and HTTP clients are built in the lifespan (never at import), so an app object can
be created, configured and tested without touching the network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request
from redis.asyncio import Redis
from sqlalchemy import Table
from starlette.responses import Response

from aos_common.auth import Authenticator, CredentialResolver
from aos_common.callers import document_tenant_query
from aos_common.db import create_engine, create_sessionmaker
from aos_common.envelope import json_response
from aos_common.errors import install_problem_handlers
from aos_common.http_client import ServiceClient
from aos_common.idempotency import IdempotencyStore
from aos_common.idempotency_purge import key_purge
from aos_common.input_limits import InputLimitMiddleware
from aos_common.metrics import Metrics, MetricsMiddleware, metrics_endpoint
from aos_common.outbox import OutboxRelay
from aos_common.readiness import ReadinessProbes, readyz
from aos_common.remote_auth import RemoteCredentialResolver
from aos_common.request_context import RequestIdMiddleware
from aos_common.revocation import RevocationSource, RevocationWatch
from aos_common.settings import ServiceSettings
from aos_common.state import ServiceState, service_state
from aos_common.telemetry import (
    FASTAPI_NATIVE_TELEMETRY_OFF,
    configure_json_logging,
    instrument_app,
    instrument_clients,
    setup_tracing,
)

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]
ResolverFactory = Callable[[FastAPI], CredentialResolver]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str = "0.1.0",
    routers: Sequence[APIRouter] = (),
    outbox: Table | None = None,
    idempotency: Table | None = None,
    resolver_factory: ResolverFactory | None = None,
    lifespan_hooks: Sequence[LifespanHook] = (),
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    body_limits: Mapping[str, int] | None = None,
    state_class: type[ServiceState] = ServiceState,
) -> FastAPI:
    """Build a service app.

    - `outbox`: the service's outbox table; a relay delivers it in the background.
    - `idempotency`: the service's `idempotency_keys` table, needed by `idempotent` routes; its
      expired keys are purged in the background.
    - `resolver_factory`: how credentials are resolved (default: ask the tenants service).
    - `lifespan_hooks`: service-specific start-up/shut-down (schedulers, catalogue loading),
      entered after the shared clients exist and left before they close.
    - `transports`: per-peer httpx transports, so tests can wire services together in-process.
    - `body_limits`: exact paths (ingest routes) allowed a larger body than `MAX_BODY_BYTES`
      (aos_common.input_limits, which every request passes through first).
    - `state_class`: the service's `ServiceState` subclass when it keeps objects of its own
      (aos_common.state); stored as `app.state.service`, read with `service_state(app, ...)`.
    """
    if settings.environment != "test":
        configure_json_logging()  # before uvicorn's start-up lines, which follow the factory call
    if settings.telemetry_enabled:
        setup_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
        instrument_clients()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = service_state(app)
        engine = create_engine(
            settings.database_url,
            application_name=f"aos-{settings.service_name}",
            pool_size=settings.database_pool_size,
        )
        redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        http = ServiceClient(
            service_name=settings.service_name,
            base_urls=settings.peer_urls(),
            internal_secret=settings.internal_secret,
            transports=transports,
        )
        state.engine = engine
        state.sessionmaker = create_sessionmaker(engine)
        state.redis = redis
        state.idempotency = IdempotencyStore(redis)
        state.idempotency_table = idempotency
        purge = key_purge(state.sessionmaker, idempotency) if idempotency is not None else None
        if purge is not None:
            purge.start()
        state.idempotency_purge = purge
        state.http = http
        resolver = resolver_factory(app) if resolver_factory else RemoteCredentialResolver(http)
        revocations = None
        if isinstance(resolver, RevocationSource):
            revocations = RevocationWatch(
                resolver, interval_seconds=settings.revocation_refresh_seconds
            )
            revocations.start()
        state.revocations = revocations
        state.authenticator = Authenticator(
            internal_secret=settings.internal_secret,
            operator_key=settings.operator_key,
            resolver=resolver,
            cache_seconds=settings.credential_cache_seconds,
            revocations=revocations,
        )
        state.outbox_relay = None
        if outbox is not None:
            relay = OutboxRelay(
                sessionmaker=state.sessionmaker,
                table=outbox,
                client=http,
                interval_seconds=settings.outbox_interval_seconds,
                metrics=state.metrics,
            )
            state.metrics.refreshers.append(relay.refresh_lag)
            state.outbox_relay = relay
            relay.start()
        try:
            async with AsyncExitStack() as stack:
                for hook in lifespan_hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            if purge is not None:
                await purge.stop()
            if revocations is not None:
                await revocations.stop()
            if state.outbox_relay is not None:
                await state.outbox_relay.stop()
                state.metrics.refreshers.remove(state.outbox_relay.refresh_lag)
            await http.aclose()
            await redis.aclose()
            await engine.dispose()

    state = state_class(settings, Metrics(settings.service_name), ReadinessProbes())
    app = FastAPI(
        title=title, version=version, lifespan=lifespan, telemetry=FASTAPI_NATIVE_TELEMETRY_OFF
    )
    app.state.service = state
    install_problem_handlers(app)
    app.add_middleware(InputLimitMiddleware, body_limits=body_limits)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_middleware(RequestIdMiddleware)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    for router in routers:
        app.include_router(router)
    document_tenant_query(app)
    if settings.telemetry_enabled:
        instrument_app(app)
    return app


async def healthz(request: Request) -> Response:
    return json_response(
        {"status": "ok", "service": service_state(request.app).settings.service_name}
    )
