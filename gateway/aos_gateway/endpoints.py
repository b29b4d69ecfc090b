"""The gateway's own endpoints: liveness, readiness (every upstream) and metrics."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from aos_common.envelope import json_response
from aos_common.errors import problem_response
from aos_gateway.reload import RuntimeHolder

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok", "service": "gateway"})


async def _service_ready(service: object) -> bool:
    from aos_gateway.proxy.upstream import ServiceRuntime

    assert isinstance(service, ServiceRuntime)
    check = service.spec.load_balancer.health_check
    results = await asyncio.gather(*(service.probe(server, check) for server in service.servers))
    for server, healthy in zip(service.servers, results, strict=True):
        if healthy:
            server.healthy = True
            server.ejected_until = 0.0
    return any(results)


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready when every upstream service has a server answering its health check, and Redis."""
    holder: RuntimeHolder | None = request.app.state.holder
    if holder is None:
        return problem_response(
            503, "Not ready: starting", instance="/readyz", headers={"Retry-After": "1"}
        )
    services = holder.current.services
    names = list(services)
    results = await asyncio.gather(*(_service_ready(services[name]) for name in names))
    checks = {
        name: ("ok" if ok else "unavailable") for name, ok in zip(names, results, strict=True)
    }
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), timeout=1.0)
        checks["redis"] = "ok"
    except Exception as error:  # any failure to answer means not ready
        checks["redis"] = f"unavailable: {type(error).__name__}"
    failing = [name for name, state in checks.items() if state != "ok"]
    if failing:
        return problem_response(
            503,
            f"Not ready: {', '.join(failing)} unavailable",
            instance="/readyz",
            headers={"Retry-After": "1"},
            extra={"checks": checks},
        )
    return json_response({"status": "ready", "checks": checks})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    holder: RuntimeHolder | None = request.app.state.holder
    gauges = request.app.state.gateway_metrics
    if holder is not None:
        now = time.monotonic()
        for name, service in holder.current.services.items():
            for server in service.servers:
                gauges.upstream_up.labels(name, server.url).set(1 if server.available(now) else 0)
        for router_runtime in holder.current.routers:
            for middleware, breaker in router_runtime.breakers.items():
                gauges.breaker_open.labels(router_runtime.name, middleware).set(
                    breaker.open_count()
                )
    return request.app.state.metrics.render()
