"""The tenants service app: tenants, API keys, roles, quotas, runs, workers, credential resolution."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from aos_common.app import create_service_app
from aos_tenants.api_keys.api import router as api_keys_router
from aos_tenants.credentials.resolver import LocalCredentialResolver, create_lookup_engine
from aos_tenants.credentials.tokens import ConsoleTokenVerifier
from aos_tenants.credentials.usage_tracker import KeyUsageTracker
from aos_tenants.internal.api import router as internal_router
from aos_tenants.models import idempotency_keys, outbox
from aos_tenants.runs.api import router as runs_router
from aos_tenants.runs.budget import CostGuard
from aos_tenants.settings import TenantsSettings
from aos_tenants.state import TenantsState, tenants_state
from aos_tenants.tenants.api import router as tenants_router
from aos_tenants.workers import repository as workers_repository
from aos_tenants.workers.api import router as workers_router
from aos_tenants.workers.catalogue import load_catalogue


def create_app(
    settings: TenantsSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or TenantsSettings()

    def resolver_factory(app: FastAPI) -> LocalCredentialResolver:
        """Credentials are resolved here, from this service's own tables (no network hop)."""
        state = tenants_state(app)
        tracker = KeyUsageTracker(
            state.sessionmaker, interval_seconds=settings.usage_flush_interval_seconds
        )
        verifier = ConsoleTokenVerifier(
            hs_secret=settings.hs_jwt_secret(),
            jwks_url=settings.jwt_jwks_url,
            leeway_seconds=settings.jwt_leeway_seconds,
        )
        state.lookup_engine = create_lookup_engine(settings.database_url)
        resolver = LocalCredentialResolver(state.lookup_engine, verifier, tracker)
        state.key_usage = tracker
        state.credential_resolver = resolver
        state.cost_guard = CostGuard(
            state.http,
            enabled=settings.cost_guard_enabled,
            timeout_seconds=settings.cost_guard_timeout_seconds,
            retry_seconds=settings.cost_guard_retry_seconds,
            unknown_policy=settings.cost_guard_unknown_policy,
        )
        return resolver

    @asynccontextmanager
    async def load_worker_catalogue(app: FastAPI) -> AsyncIterator[None]:
        workers = load_catalogue()
        async with tenants_state(app).sessionmaker() as session, session.begin():
            await workers_repository.load_catalogue(session, workers)
        yield

    @asynccontextmanager
    async def flush_key_usage(app: FastAPI) -> AsyncIterator[None]:
        state = tenants_state(app)
        try:
            async with state.key_usage.running():
                yield
        finally:
            await state.lookup_engine.dispose()

    app = create_service_app(
        settings,
        title="AOS tenants",
        routers=[
            tenants_router,
            api_keys_router,
            runs_router,
            workers_router,
            internal_router,
        ],
        outbox=outbox,
        idempotency=idempotency_keys,
        resolver_factory=resolver_factory,
        lifespan_hooks=[load_worker_catalogue, flush_key_usage],
        transports=transports,
        state_class=TenantsState,
    )
    return app
