"""The traces service app: traces, steps, OTLP ingestion, replay checks, mismatches."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import APIRouter, FastAPI

from aos_common.app import create_service_app
from aos_common.input_limits import INGEST_MAX_BODY_BYTES
from aos_traces.evidence import api as evidence_api
from aos_traces.internal import api as internal_api
from aos_traces.mismatches import api as mismatches_api
from aos_traces.models import idempotency_keys, outbox
from aos_traces.otlp import api as otlp_api
from aos_traces.otlp.grpc_server import otlp_grpc_server
from aos_traces.replay import api as replay_api
from aos_traces.settings import TracesSettings
from aos_traces.state import TracesState
from aos_traces.traces import api as traces_api


def routers() -> list[APIRouter]:
    """Static paths first: `/summary`, `/mismatches`, `/batch` ... before `/{run_id}`."""
    return [
        traces_api.static_router,
        mismatches_api.static_router,
        traces_api.item_router,
        mismatches_api.item_router,
        replay_api.router,
        evidence_api.router,
        otlp_api.router,
        internal_api.router,
    ]


# The routes the gateway's `body-limit-ingest` covers get the same larger limit on this port.
INGEST_BODY_LIMITS = {
    "/api/v1/traces/batch": INGEST_MAX_BODY_BYTES,
    "/v1/traces": INGEST_MAX_BODY_BYTES,
}


def create_app(
    settings: TracesSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or TracesSettings()
    app = create_service_app(
        settings,
        title="AOS traces",
        routers=routers(),
        outbox=outbox,
        idempotency=idempotency_keys,
        transports=transports,
        lifespan_hooks=[otlp_grpc_server],
        body_limits=INGEST_BODY_LIMITS,
        state_class=TracesState,
    )
    return app
