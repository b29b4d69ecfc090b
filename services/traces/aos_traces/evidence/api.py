"""Evidence and integrity routes of one trace."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_common.idempotency import idempotent
from aos_traces.dependencies import ReaderDep, WriterDep
from aos_traces.evidence import service

router = APIRouter(prefix="/api/v1/traces", tags=["integrity"])

EvidenceClass = Literal[
    "environment", "trace", "trace_steps", "activity", "provider", "policy_decisions"
]
FailureType = Literal[
    "capture_failed",
    "provider_timeout",
    "network_partition",
    "database_error",
    "pre_attach",
    "context_invalid",
]


class EvidenceCreate(BaseModel):
    """Evidence of a class, or (with `failure_type`) a failure to capture that class."""

    evidence_class: EvidenceClass
    failure_type: FailureType | None = None
    details: dict[str, Any] = Field(default_factory=dict)


@router.get("/{trace_id}/integrity")
async def integrity(trace_id: str, caller: ReaderDep, session: SessionDep) -> Response:
    return json_response(await service.integrity(session, caller.tenant_id, trace_id))


@router.post("/{trace_id}/evidence", status_code=201)
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
