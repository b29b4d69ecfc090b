"""From a checked `GatewayConfig` to running routers: middleware instances, services with health
checks, and the swap on reload.

A reload builds a complete new `Runtime` next to the old one and swaps one reference; requests in
flight finish on the objects they started with. Services whose definition did not change are carried
over (health state and checks included), so are circuit breakers and in-flight counters.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from aos_common.http_client import ServiceClient
from aos_gateway.config.loader import BUDGET_MARKER_HEADER, CompiledRouter, GatewayConfig
from aos_gateway.config.models import Middleware
from aos_gateway.metrics import GatewayMetrics
from aos_gateway.middlewares.auth import AuthCache, ForwardAuthMiddleware
from aos_gateway.middlewares.basic import (
    BufferingMiddleware,
    HeadersMiddleware,
    InFlightReqMiddleware,
    RetryMiddleware,
    StripPrefixMiddleware,
)
from aos_gateway.middlewares.breaker import CircuitBreakerMiddleware
from aos_gateway.middlewares.limits import BudgetGuardMiddleware, RateLimitMiddleware
from aos_gateway.middlewares.ratelimit import RateLimiter
from aos_gateway.middlewares.usage import UsageMeter
from aos_gateway.proxy.h1client import H1Pool
from aos_gateway.proxy.types import Handler, ProxyRequest, ProxyResponse
from aos_gateway.proxy.types import Middleware as MiddlewareFn
from aos_gateway.proxy.upstream import ServiceRuntime
from aos_gateway.rules import RequestInfo
from aos_gateway.settings import GatewaySettings


@dataclass
class Deps:
    """What middlewares and services need from the app, created once in the lifespan."""

    settings: GatewaySettings
    client: httpx.AsyncClient
    pool: H1Pool
    limiter: RateLimiter
    auth_cache: AuthCache
    peers: ServiceClient
    metrics: GatewayMetrics
    usage: UsageMeter | None = None


@dataclass
class RouterRuntime:
    name: str
    service: str
    handler: Handler
    compiled: CompiledRouter
    breakers: dict[str, CircuitBreakerMiddleware] = field(default_factory=dict)


def _bind(middleware: MiddlewareFn, call_next: Handler) -> Handler:
    async def handler(request: ProxyRequest) -> ProxyResponse:
        return await middleware(request, call_next)

    return handler


class Runtime:
    def __init__(
        self,
        config: GatewayConfig,
        deps: Deps,
        previous: Runtime | None = None,
    ) -> None:
        self.config = config
        self.deps = deps
        self.services: dict[str, ServiceRuntime] = {}
        self._carried: set[str] = set()
        old_services = previous.services if previous else {}
        for name, service in config.services.items():
            old = old_services.get(name)
            if old is not None and old.spec == service:
                self.services[name] = old
                self._carried.add(name)
            else:
                runtime = ServiceRuntime(
                    service,
                    deps.client,
                    deps.pool,
                    ejection_seconds=deps.settings.passive_ejection_seconds,
                )
                if old is not None:
                    runtime.adopt_state(old)
                self.services[name] = runtime
        self._shared: dict[str, Any] = {}
        old_shared = previous._shared if previous else {}
        old_routers = {r.name: r for r in previous.routers} if previous else {}
        self.routers: list[RouterRuntime] = [
            self._build_router(r, old_routers.get(r.name), old_shared) for r in config.routers
        ]
        fail_open = deps.metrics.fail_open.labels("cost-intel")
        self._budget = BudgetGuardMiddleware(deps.peers, on_fail_open=fail_open.inc)

    # --- construction -------------------------------------------------------------------------

    def _upstream_name(self, address: str) -> str:
        """Name the service an auth address belongs to, for "Upstream <service> unavailable"."""
        origin = urlsplit(address)
        for name, service in self.services.items():
            for server in service.servers:
                if urlsplit(server.url).netloc == origin.netloc:
                    return name
        return origin.hostname or "auth"

    def _shared_instance(self, middleware: Middleware, old_shared: Mapping[str, Any]) -> Any:
        key = middleware.name
        if key in self._shared:
            return self._shared[key]
        old = old_shared.get(key)
        if old is not None and getattr(old, "spec", None) == middleware.spec:
            instance = old
        elif middleware.kind == "inFlightReq":
            instance = InFlightReqMiddleware(middleware.spec)
        elif middleware.kind == "rateLimit":
            instance = RateLimitMiddleware(middleware.name, middleware.spec, self.deps.limiter)
        elif middleware.kind == "forwardAuth":
            instance = ForwardAuthMiddleware(
                middleware.spec,
                pool=self.deps.pool,
                cache=self.deps.auth_cache,
                limiter=self.deps.limiter,
                internal_secret=self.deps.settings.internal_secret,
                timeout=self.deps.settings.auth_timeout_seconds,
                upstream_name=self._upstream_name(middleware.spec.address),
                meter=self.deps.usage,
            )
        elif middleware.kind == "headers":
            instance = HeadersMiddleware(middleware.spec)
        elif middleware.kind == "stripPrefix":
            instance = StripPrefixMiddleware(middleware.spec)
        elif middleware.kind == "buffering":
            instance = BufferingMiddleware(middleware.spec)
        elif middleware.kind == "retry":
            instance = RetryMiddleware(middleware.spec)
        else:  # the loader refuses every other kind; this is a programming error
            raise ValueError(f"middleware kind {middleware.kind!r} has no implementation")
        self._shared[key] = instance
        return instance

    def _build_router(
        self,
        compiled: CompiledRouter,
        old: RouterRuntime | None,
        old_shared: Mapping[str, Any],
    ) -> RouterRuntime:
        service = self.services[compiled.service]
        runtime = RouterRuntime(compiled.name, compiled.service, service.forward, compiled)
        chain: list[MiddlewareFn] = []
        for middleware in compiled.middlewares:
            if middleware.kind == "circuitBreaker":
                previous = old.breakers.get(middleware.name) if old else None
                if (
                    previous is not None
                    and previous.spec == middleware.spec
                    and previous.service == compiled.service
                ):
                    breaker = previous
                else:
                    breaker = CircuitBreakerMiddleware(
                        middleware.spec,
                        self.config.breaker_predicates[middleware.name],
                        compiled.service,
                    )
                runtime.breakers[middleware.name] = breaker
                chain.append(breaker)
                continue
            if middleware.kind == "headers" and _marks_budget(middleware):
                chain.append(self._budget_guard)
            chain.append(self._shared_instance(middleware, old_shared))
        handler: Handler = service.forward
        for middleware_fn in reversed(chain):
            handler = _bind(middleware_fn, handler)
        runtime.handler = handler
        return runtime

    async def _budget_guard(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        return await self._budget(request, call_next)

    # --- lifecycle ----------------------------------------------------------------------------

    def match(self, request: RequestInfo) -> RouterRuntime | None:
        for router in self.routers:
            if router.compiled.matcher(request):
                return router
        return None

    def start(self) -> None:
        for service in self.services.values():
            service.start()

    async def retire(self, successor: Runtime | None) -> None:
        """Stop what the successor did not carry over (health loops of replaced services)."""
        kept = set(successor.services.values()) if successor else set()
        for service in self.services.values():
            if service not in kept:
                await service.stop()


@functools.cache
def _marker() -> str:
    return BUDGET_MARKER_HEADER.lower()


def _marks_budget(middleware: Middleware) -> bool:
    return any(key.lower() == _marker() for key in middleware.spec.custom_request_headers)
