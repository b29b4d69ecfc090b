"""The traces service's typed application state (aos_common.state): its settings class, the
ingest partition cache and the port OTLP/gRPC listens on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aos_common.state import ServiceState, service_state

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from aos_traces.ingest.service import IngestContext
    from aos_traces.settings import TracesSettings


class TracesState(ServiceState):
    settings: TracesSettings
    # Created on first ingest, rebuilt if the engine changed (aos_traces.dependencies).
    ingest: IngestContext | None = None
    # Set by the OTLP/gRPC lifespan hook: the port bound (None when turned off).
    otlp_grpc_port: int | None = None


def traces_state(app: Starlette) -> TracesState:
    return service_state(app, TracesState)
