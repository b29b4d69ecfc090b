"""Routes of `/api/v1/logs/*`: LLM runs (run + steps + costs + replay window), the audit ledger
(paginated, read on the caller's behalf from audit-ledger) and the export history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from aos_common.auth import Principal, TenantQuery, require_permission, scoped_tenant
from aos_common.bounds import OffsetQuery
from aos_common.db import SessionDep
from aos_common.envelope import (
    Envelope,
    PageEnvelope,
    envelope,
    json_response,
    page_envelope,
)
from aos_common.errors import NotFound
from aos_guard_logs.api import LogFiltersDep
from aos_guard_logs.dependencies import READ_LOGS, LogsServiceDep
from aos_guard_logs.peers import AUDIT, UpstreamError
from aos_guard_logs.repository import LogExportRepository
from aos_guard_logs.schemas import LlmRunRead, LogExportRead

router = APIRouter(prefix="/api/v1/logs", tags=["logs"])
ReaderDep = Annotated[Principal, require_permission(READ_LOGS)]


class ExportNotFound(NotFound):
    def __init__(self, export_id: str) -> None:
        super().__init__(f"Export {export_id} not found or access denied")


@router.get("/llm-runs", response_model=PageEnvelope[list[dict[str, Any]]])
async def list_llm_runs(
    principal: ReaderDep,
    logs: LogsServiceDep,
    filters: LogFiltersDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: OffsetQuery = 0,
    tenant_id: TenantQuery = None,
) -> Response:
    tenant = scoped_tenant(principal, tenant_id)
    runs, total = await logs.llm_runs(tenant, filters, limit=limit, offset=offset)
    return json_response(page_envelope(runs, total=total, limit=limit, offset=offset))


@router.get("/llm-runs/{run_id}", response_model=Envelope[LlmRunRead])
async def get_llm_run(
    run_id: str, principal: ReaderDep, logs: LogsServiceDep, tenant_id: TenantQuery = None
) -> Response:
    tenant = scoped_tenant(principal, tenant_id)
    return json_response(envelope(await logs.llm_run(tenant, run_id)))


@router.get("/audit")
async def list_audit(
    principal: ReaderDep,
    logs: LogsServiceDep,
    event_type: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_type: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
    tenant_id: TenantQuery = None,
) -> Response:
    """The ledger page exactly as audit-ledger answers it for this caller (envelope, paginated)."""
    tenant = scoped_tenant(principal, tenant_id)
    params: dict[str, Any] = {
        "event_type": event_type,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "actor_type": actor_type,
        "from": from_.isoformat() if from_ else None,
        "to": to.isoformat() if to else None,
        "limit": limit,
        "offset": offset,
        "tenant_id": tenant if tenant != principal.tenant_id else None,
    }
    response = await logs.peers.audit_page(
        principal, {key: value for key, value in params.items() if value is not None}
    )
    if response.status_code >= 500:
        raise UpstreamError(f"Upstream {AUDIT} answered {response.status_code}")
    return Response(
        response.content,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/json"),
    )


@router.get("/exports", response_model=PageEnvelope[list[LogExportRead]])
async def list_exports(
    principal: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
    tenant_id: TenantQuery = None,
) -> Response:
    """The tenant's export history, newest first."""
    tenant = scoped_tenant(principal, tenant_id)
    items, total = await LogExportRepository(session).page(tenant, limit=limit, offset=offset)
    return json_response(page_envelope(items, total=total, limit=limit, offset=offset))


@router.get("/exports/{export_id}", response_model=Envelope[LogExportRead])
async def get_export(
    export_id: str, principal: ReaderDep, session: SessionDep, tenant_id: TenantQuery = None
) -> Response:
    tenant = scoped_tenant(principal, tenant_id)
    record = await LogExportRepository(session).get(tenant, export_id)
    if record is None:
        raise ExportNotFound(export_id)
    return json_response(envelope(record))
