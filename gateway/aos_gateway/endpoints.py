"""The gateway's own endpoints: liveness, readiness (configuration and Redis) and metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.responses import Response

from aos_common.envelope import json_response
from aos_common.errors import problem_response
from aos_gateway.state import GatewayStateDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok", "service": "gateway"})


@router.get("/readyz")
async def readyz(state: GatewayStateDep) -> Response:
    """Ready when a configuration is loaded and Redis answers (bounded at 0.5 s by aos_common's
    probes, so the answer comes within a second whatever Redis does).

    Upstream services are not part of it: one service down must not take the whole edge out of
    rotation (issue 17); its routes answer 503 with Retry-After on their own. Their health, as the
    health checks last saw it, is reported under `upstreams` for operators.
    """
    live = state.live
    if live is None:
        return problem_response(
            503,
            "Not ready: configuration not loaded yet",
            instance="/readyz",
            headers={"Retry-After": "1"},
        )
    checks = {
        "configuration": "ok",
        "redis": await state.readiness.check("redis", live.redis.ping),
    }
    now = time.monotonic()
    upstreams = {
        name: "up" if any(server.available(now) for server in service.servers) else "down"
        for name, service in live.holder.current.services.items()
    }
    if checks["redis"] != "ok":
        return problem_response(
            503,
            "Not ready: redis unavailable",
            instance="/readyz",
            headers={"Retry-After": "1"},
            extra={"checks": checks, "upstreams": upstreams},
        )
    return json_response({"status": "ready", "checks": checks, "upstreams": upstreams})


@router.get("/metrics")
async def metrics(state: GatewayStateDep) -> Response:
    runtime = state.routes()
    gauges = state.gateway_metrics
    if runtime is not None:
        now = time.monotonic()
        for name, service in runtime.services.items():
            for server in service.servers:
                gauges.upstream_up.labels(name, server.url).set(1 if server.available(now) else 0)
        for router_runtime in runtime.routers:
            for middleware, breaker in router_runtime.breakers.items():
                gauges.breaker_open.labels(router_runtime.name, middleware).set(
                    breaker.open_count()
                )
    return state.metrics.render()
