"""Mismatch routes: the tenant-wide list and bulk report (static), per-trace report/list/resolve."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.envelope import Envelope, envelope, json_response
from aos_common.idempotency import idempotent
from aos_traces.dependencies import AdminDep, ReaderDep, WriterDep
from aos_traces.mismatches import service
from aos_traces.mismatches.schemas import (
    BulkReport,
    MismatchCreate,
    MismatchRecorded,
    MismatchResolved,
    RecentMismatches,
    TraceMismatches,
)
from aos_traces.state import traces_state

PREFIX = "/api/v1/traces"
static_router = APIRouter(prefix=PREFIX, tags=["mismatches"])
item_router = APIRouter(prefix=PREFIX, tags=["mismatches"])


@static_router.get("/mismatches", response_model=Envelope[RecentMismatches])
async def list_mismatches(
    caller: ReaderDep,
    session: SessionDep,
    window: Literal["24h", "7d", "30d"] = "24h",
    status: Literal["open", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    result = await service.list_recent(session, caller.tenant_id, window, status, limit)
    return json_response(envelope(result))


@static_router.post("/mismatches/bulk-report", response_model=BulkReport)
async def bulk_report(
    request: Request,
    caller: AdminDep,
    session: SessionDep,
    mismatch_ids: Annotated[list[str], Query(min_length=1)],
    github_issue: bool = True,
) -> Response:
    result = await service.bulk_report(
        session,
        traces_state(request.app).settings,
        caller.tenant_id,
        mismatch_ids,
        github_issue,
        caller.actor,
    )
    return json_response(result)


@item_router.post("/{trace_id}/mismatch", status_code=201, response_model=MismatchRecorded)
async def report_mismatch(
    trace_id: str, body: MismatchCreate, request: Request, caller: WriterDep, session: SessionDep
) -> Response:
    async def produce() -> Response:
        result = await service.report(
            session,
            traces_state(request.app).settings,
            caller.tenant_id,
            trace_id,
            body,
            caller.actor,
        )
        return json_response(result, 201)

    return await idempotent(request, session, caller.tenant_id, produce)


@item_router.get("/{trace_id}/mismatches", response_model=Envelope[TraceMismatches])
async def trace_mismatches(trace_id: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(
        envelope(await service.list_for_trace(session, caller.tenant_id, trace_id))
    )


@item_router.post("/{trace_id}/mismatches/{mismatch_id}/resolve", response_model=MismatchResolved)
async def resolve_mismatch(
    trace_id: str,
    mismatch_id: str,
    request: Request,
    caller: AdminDep,
    session: SessionDep,
    resolution_note: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    result = await service.resolve(
        session,
        traces_state(request.app).settings,
        caller.tenant_id,
        trace_id,
        mismatch_id,
        caller.actor,
        resolution_note,
    )
    return json_response(result)
