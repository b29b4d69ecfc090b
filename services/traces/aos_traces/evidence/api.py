"""Evidence and integrity routes of one trace."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_common.idempotency import idempotent
from aos_traces.dependencies import ReaderDep, WriterDep
from aos_traces.evidence import service
from aos_traces.evidence.schemas import EvidenceCreate, EvidenceRecorded, IntegrityRead

router = APIRouter(prefix="/api/v1/traces", tags=["integrity"])


@router.get("/{trace_id}/integrity", response_model=IntegrityRead)
async def integrity(trace_id: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(await service.integrity(session, caller.tenant_id, trace_id))


@router.post("/{trace_id}/evidence", status_code=201, response_model=EvidenceRecorded)
async def record_evidence(
    trace_id: str, body: EvidenceCreate, request: Request, caller: WriterDep, session: SessionDep
) -> Response:
    async def produce() -> Response:
        result = await service.record(
            session,
            caller.tenant_id,
            trace_id,
            body.evidence_class,
            body.failure_type,
            body.details,
            caller.actor,
        )
        return json_response(result, 201)

    return await idempotent(request, session, caller.tenant_id, produce)
