"""Routes of the log views: `/api/v1/guard/logs` (list, detail, evidence bundle) and the
`/api/v1/logs` facade (LLM runs: run + steps + costs + replay window; the audit ledger, paginated,
read on the caller's behalf from audit-ledger). Exports are the `exports` area's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from aos_common import domain_metrics
from aos_common.bounds import OffsetQuery
from aos_common.envelope import (
    Envelope,
    PageEnvelope,
    envelope,
    iso_utc,
    json_response,
    page_envelope,
    utc_now,
)
from aos_guard_logs.dependencies import LogFiltersDep, LogsServiceDep, ReaderDep
from aos_guard_logs.logs.peers import AUDIT, UpstreamError
from aos_guard_logs.logs.schemas import LlmRunRead, LogDetailRead, LogListRead

router = APIRouter(prefix="/api/v1")


@router.get("/guard/logs", tags=["guard-logs"], response_model=LogListRead)
async def list_logs(
    caller: ReaderDep,
    logs: LogsServiceDep,
    filters: LogFiltersDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: OffsetQuery = 0,
) -> Response:
    tenant = caller.tenant_id
    page = await logs.list_logs(tenant, filters, limit=limit, offset=offset)
    return json_response(page)


@router.get("/guard/logs/{log_id}", tags=["guard-logs"], response_model=Envelope[LogDetailRead])
async def get_log(log_id: str, caller: ReaderDep, logs: LogsServiceDep) -> Response:
    tenant = caller.tenant_id
    return json_response(envelope(await logs.detail(tenant, log_id)))


@router.get(
    "/guard/logs/{log_id}/bundle",
    tags=["guard-logs"],
    responses={200: {"content": {"application/zip": {}}}},
)
async def get_bundle(log_id: str, caller: ReaderDep, logs: LogsServiceDep) -> Response:
    """The run's evidence bundle; check it offline with `aos bundle verify FILE.zip`."""
    tenant = caller.tenant_id
    filename, content = await logs.bundle(tenant, log_id, generated_at=iso_utc(utc_now()))
    domain_metrics.EXPORTS.labels("guard-logs", "bundle").inc()
    headers: dict[str, Any] = {"Content-Disposition": f"attachment; filename={filename}"}
    return Response(content, media_type="application/zip", headers=headers)


@router.get("/logs/llm-runs", tags=["logs"], response_model=PageEnvelope[list[dict[str, Any]]])
async def list_llm_runs(
    caller: ReaderDep,
    logs: LogsServiceDep,
    filters: LogFiltersDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: OffsetQuery = 0,
) -> Response:
    tenant = caller.tenant_id
    runs, total = await logs.llm_runs(tenant, filters, limit=limit, offset=offset)
    return json_response(page_envelope(runs, total=total, limit=limit, offset=offset))


@router.get("/logs/llm-runs/{run_id}", tags=["logs"], response_model=Envelope[LlmRunRead])
async def get_llm_run(run_id: str, caller: ReaderDep, logs: LogsServiceDep) -> Response:
    tenant = caller.tenant_id
    return json_response(envelope(await logs.llm_run(tenant, run_id)))


@router.get("/logs/audit", tags=["logs"])
async def list_audit(
    caller: ReaderDep,
    logs: LogsServiceDep,
    event_type: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_type: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> Response:
    """The ledger page exactly as audit-ledger answers it for this caller (envelope, paginated)."""
    tenant = caller.tenant_id
    params: dict[str, Any] = {
        "event_type": event_type,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "actor_type": actor_type,
        "from": from_.isoformat() if from_ else None,
        "to": to.isoformat() if to else None,
        "limit": limit,
        "offset": offset,
        "tenant_id": tenant if tenant != caller.principal.tenant_id else None,
    }
    response = await logs.peers.audit_page(
        caller.principal, {key: value for key, value in params.items() if value is not None}
    )
    if response.status_code >= 500:
        raise UpstreamError(f"Upstream {AUDIT} answered {response.status_code}")
    return Response(
        response.content,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/json"),
    )
