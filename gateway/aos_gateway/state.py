"""The gateway's application state, typed: one dataclass on `app.state.gateway`, read through
`gateway_state` (or the `GatewayStateDep` dependency) instead of untyped `app.state.X` lookups.

Why two parts: what exists from the factory on (settings, metrics, readiness probes) is set once;
what the lifespan opens (Redis, the routing holder, the peers client, the merged API document) is
`Live`, present only while the app runs, so a handler asks for it once and gets a typed object
or a 503 instead of an attribute error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from redis.asyncio import Redis
from starlette.applications import Starlette

from aos_common.errors import ServiceUnavailable
from aos_common.http_client import ServiceClient
from aos_common.metrics import Metrics
from aos_common.readiness import ReadinessProbes
from aos_gateway.api_document import MergedDocument
from aos_gateway.metrics import GatewayMetrics
from aos_gateway.reload import RuntimeHolder
from aos_gateway.runtime import Runtime
from aos_gateway.settings import GatewaySettings


@dataclass
class Live:
    """What the lifespan opened; closed by it on the way out."""

    holder: RuntimeHolder
    redis: Redis
    peers: ServiceClient
    reference: MergedDocument


@dataclass
class GatewayState:
    settings: GatewaySettings
    metrics: Metrics
    gateway_metrics: GatewayMetrics
    readiness: ReadinessProbes
    live: Live | None = None

    def routes(self) -> Runtime | None:
        """The routing in force, or None before start-up and after shut-down (the proxy then lets
        the request fall through to the gateway's own endpoints)."""
        live = self.live
        return live.holder.current if live is not None else None

    def require_live(self) -> Live:
        """The lifespan's objects, or a 503 while the gateway starts or stops."""
        if self.live is None:
            raise ServiceUnavailable(
                "The gateway is starting or stopping; retry shortly", headers={"Retry-After": "1"}
            )
        return self.live


def install_state(app: Starlette, state: GatewayState) -> None:
    app.state.gateway = state


def gateway_state(request: Request) -> GatewayState:
    """The one accessor of the gateway's state (a FastAPI dependency as well)."""
    return cast(GatewayState, request.app.state.gateway)


GatewayStateDep = Annotated[GatewayState, Depends(gateway_state)]
