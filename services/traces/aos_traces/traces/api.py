"""Trace routes: store, bulk ingest, list, summary, lookups, compare, delete, retention.

Static paths are registered before parameterised ones (`/summary` before `/{run_id}`). Each
route declares its answer as `response_model` (the OpenAPI contract); the handlers build their
`json_response` themselves, so FastAPI does not validate the answer again on the hot path.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aos_common import domain_metrics
from aos_common.db import SessionDep
from aos_common.envelope import Envelope, envelope, json_response
from aos_common.errors import Unprocessable
from aos_common.idempotency import idempotent
from aos_traces.dependencies import (
    AdminDep,
    ReaderDep,
    WriterDep,
    ingest_context,
    iso_param,
    json_body,
    request_payload,
)
from aos_traces.domain.gc_pause import gc_paused
from aos_traces.ingest import service as ingest
from aos_traces.state import traces_state
from aos_traces.traces import service
from aos_traces.traces.schemas import (
    BatchResult,
    CleanupResult,
    IdempotencyStatus,
    IncidentTraces,
    TraceComparison,
    TraceCounts,
    TraceDocument,
    TraceFilters,
    TraceList,
    TraceStored,
)

PREFIX = "/api/v1/traces"
static_router = APIRouter(prefix=PREFIX, tags=["traces"])
item_router = APIRouter(prefix=PREFIX, tags=["traces"])


def filters_from(
    agent_id: str | None = None,
    status: str | None = None,
    root_hash: str | None = None,
    plan_hash: str | None = None,
    seed: Annotated[int | None, Query(ge=-(2**63), lt=2**63)] = None,
    level: str | None = None,
    is_synthetic: bool | None = None,
    incident_id: str | None = None,
    run_id: str | None = None,
    from_date: str | None = None,
    to_date: str | None = None,
    as_of: str | None = None,
) -> TraceFilters:
    return TraceFilters(
        agent_id=agent_id,
        status=status,
        root_hash=root_hash,
        plan_hash=plan_hash,
        seed=seed,
        level=level.upper() if level else None,
        is_synthetic=is_synthetic,
        incident_id=incident_id,
        run_id=run_id,
        from_date=iso_param(from_date, "from_date"),
        to_date=iso_param(to_date, "to_date"),
        as_of=iso_param(as_of, "as_of"),
    )


@static_router.get("", response_model=TraceList)
async def list_traces(
    caller: ReaderDep,
    session: SessionDep,
    agent_id: str | None = None,
    status: str | None = None,
    root_hash: str | None = None,
    plan_hash: str | None = None,
    seed: Annotated[int | None, Query(ge=-(2**63), lt=2**63)] = None,
    level: str | None = None,
    is_synthetic: bool | None = None,
    incident_id: str | None = None,
    run_id: str | None = None,
    from_date: str | None = None,
    to_date: str | None = None,
    as_of: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    filters = filters_from(
        agent_id,
        status,
        root_hash,
        plan_hash,
        seed,
        level,
        is_synthetic,
        incident_id,
        run_id,
        from_date,
        to_date,
        as_of,
    )
    return json_response(
        await service.list_traces(session, caller.tenant_id, filters, limit, offset)
    )


@static_router.post("", status_code=201, response_model=Envelope[TraceStored])
async def store_trace(request: Request, caller: WriterDep, session: SessionDep) -> Response:
    async def produce() -> Response:
        body = await json_body(request)
        stored = await ingest.store_trace(
            session, ingest_context(request), body, caller.tenant_id, caller.principal.is_operator
        )
        return json_response(envelope(stored), 201)

    return await idempotent(request, session, caller.tenant_id, produce)


@static_router.get("/summary", response_model=TraceCounts)
async def traces_summary(caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(await service.summary(session, caller.tenant_id))


@static_router.post("/batch", status_code=201, response_model=BatchResult)
async def store_batch(request: Request, caller: WriterDep, session: SessionDep) -> Response:
    """Up to 1,000 traces / 50,000 steps, JSON array or NDJSON, one transaction, per-item results."""
    settings = traces_state(request.app).settings

    async def produce() -> Response:
        body = await request_payload(request)
        content_type = request.headers.get("content-type", "")
        with gc_paused():
            items = await run_in_threadpool(
                ingest.parse_and_prepare,
                body,
                content_type,
                caller.tenant_id,
                caller.principal.is_operator,
                max_traces=settings.batch_max_traces,
                max_steps=settings.batch_max_steps,
            )
            result = await ingest.store_batch(session, ingest_context(request), items)
            domain_metrics.STEPS_INGESTED.labels("traces", "batch").inc(result["steps_stored"])
            # Freed while the collector is still paused: resumed with the batch alive, its first
            # collection would walk every object of the batch once more, for nothing.
            del items
        return json_response(result, 201)

    return await idempotent(request, session, caller.tenant_id, produce)


@static_router.post("/cleanup", response_model=Envelope[CleanupResult])
async def cleanup(
    request: Request,
    caller: AdminDep,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Response:
    body: Any = await json_body(request, required=False)
    if isinstance(body, dict) and body.get("older_than_days") is not None:
        value = body["older_than_days"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
            raise Unprocessable(
                "older_than_days must be an integer between 1 and 365",
                extra={"errors": [{"field": "older_than_days", "message": "must be 1-365"}]},
            )
        days = value
    result = await service.cleanup(session, request.app, caller.tenant_id, days, caller.principal)
    return json_response(envelope(result))


@static_router.get("/by-hash/{root_hash}", response_model=TraceDocument)
async def by_hash(root_hash: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(await service.get_by_root_hash(session, caller.tenant_id, root_hash))


@static_router.get("/by-incident/{incident_id}", response_model=IncidentTraces)
async def by_incident(incident_id: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(await service.by_incident(session, caller.tenant_id, incident_id))


@static_router.get("/compare/{run_id1}/{run_id2}", response_model=TraceComparison)
async def compare(run_id1: str, run_id2: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(await service.compare(session, caller.tenant_id, run_id1, run_id2))


@static_router.get("/idempotency/{key:path}", response_model=Envelope[IdempotencyStatus])
async def idempotency(key: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(envelope(await service.idempotency_status(session, caller.tenant_id, key)))


@item_router.get("/{run_id}", response_model=TraceDocument)
async def get_trace(run_id: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(await service.get_document(session, caller.tenant_id, run_id))


@item_router.delete("/{run_id}", status_code=204, response_class=Response)
async def delete_trace(
    run_id: str, request: Request, caller: AdminDep, session: SessionDep
) -> Response:
    await service.delete(session, request.app, caller.tenant_id, run_id, caller.principal)
    return Response(status_code=204)
