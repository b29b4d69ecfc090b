"""POST /api/v1/traces/{trace_id}/replay/steps/{step_index}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_traces.dependencies import WriterDep
from aos_traces.replay import service
from aos_traces.replay.schemas import ReplayResult, ReplayStepRequest

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
