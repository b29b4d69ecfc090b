"""POST /api/v1/traces/{trace_id}/replay/steps/{step_index}: replay a step;
GET /api/v1/traces/{trace_id}/replay/checks: the replays recorded so far."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from aos_common.bounds import INT32_MAX, OffsetQuery
from aos_common.db import SessionDep
from aos_common.envelope import PageEnvelope, json_response, page_envelope
from aos_traces.dependencies import ReaderDep, WriterDep
from aos_traces.replay import service
from aos_traces.replay.schemas import ReplayCheckRead, ReplayResult, ReplayStepRequest

router = APIRouter(prefix="/api/v1/traces", tags=["replay"])


@router.post("/{trace_id}/replay/steps/{step_index}", response_model=ReplayResult)
async def replay_step(
    trace_id: str,
    step_index: Annotated[int, Path(ge=0, lt=2**31)],
    body: ReplayStepRequest,
    caller: WriterDep,
    session: SessionDep,
) -> Response:
    result = await service.replay_step(
        session, caller.tenant_id, trace_id, step_index, body.output, caller.actor
    )
    return json_response(result)


@router.get("/{trace_id}/replay/checks", response_model=PageEnvelope[list[ReplayCheckRead]])
async def replay_checks(
    trace_id: str,
    caller: ReaderDep,
    session: SessionDep,
    step_index: Annotated[int | None, Query(ge=0, le=INT32_MAX)] = None,
    latest_per_step: Annotated[
        bool, Query(description="Only each step's newest check, in step order")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: OffsetQuery = 0,
) -> Response:
    """The trace's replay checks, newest first (404 for a trace the tenant does not have)."""
    checks, total = await service.list_checks(
        session,
        caller.tenant_id,
        trace_id,
        step_index=step_index,
        latest_per_step=latest_per_step,
        limit=limit,
        offset=offset,
    )
    return json_response(page_envelope(checks, total=total, limit=limit, offset=offset))
