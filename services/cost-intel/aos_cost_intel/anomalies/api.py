"""Routes: /api/v1/cost/anomalies, /anomalies/{id}/resolve, /anomalies/detect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_cost_intel.anomalies import service
from aos_cost_intel.anomalies.schemas import (
    AnomalyList,
    AnomalyProvenance,
    CostAnomalyRead,
    DetectRequest,
    DetectResult,
)
from aos_cost_intel.dependencies import ReaderDep, WriterDep
from aos_cost_intel.state import cost_intel_state

router = APIRouter(prefix="/api/v1/cost", tags=["cost anomalies"])


@router.get("/anomalies", response_model=AnomalyList)
async def list_anomalies(
    session: SessionDep,
    caller: ReaderDep,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
    include_resolved: bool = False,
) -> Response:
    tenant = caller.tenant_id
    anomalies = await service.list_anomalies(session, tenant, days, include_resolved)
    provenance = AnomalyProvenance(
        sources=["cost_anomalies", "cost_records"],
        window=f"{days}d" if days != 1 else "24h",
        aggregation="DETECT:anomaly",
        generated_at=datetime.now(UTC),
    )
    return json_response(AnomalyList(data=anomalies, provenance=provenance))


@router.post("/anomalies/detect", response_model=DetectResult)
async def detect_anomalies(
    request: Request,
    session: SessionDep,
    caller: WriterDep,
    body: Annotated[DetectRequest | None, Body()] = None,
) -> Response:
    """Run detection now; new HIGH anomalies are escalated unless `escalate` is false."""
    tenant = caller.tenant_id
    settings = cost_intel_state(request.app).settings
    result = await service.detect(
        session,
        tenant,
        escalate=(body or DetectRequest()).escalate,
        actor=caller.principal,
        webhook_url=settings.alert_webhook,
        webhook_timeout=settings.webhook_timeout_seconds,
    )
    kick_outbox_after_commit(request.app, session)
    return json_response(result)


@router.post("/anomalies/{anomaly_id}/resolve", response_model=CostAnomalyRead)
async def resolve_anomaly(
    anomaly_id: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    caller: WriterDep,
) -> Response:
    tenant = caller.tenant_id
    return json_response(
        await service.resolve(session, tenant, anomaly_id, caller.principal.principal_id)
    )
