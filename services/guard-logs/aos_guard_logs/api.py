"""Routes of `/api/v1/guard/logs*`: list, export, detail and evidence bundle (API.md guard-logs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response, StreamingResponse

from aos_common import domain_metrics
from aos_common.auth import Principal, TenantQuery, require_permission, scoped_tenant
from aos_common.bounds import OffsetQuery
from aos_common.envelope import Envelope, envelope, iso_utc, json_response, utc_now
from aos_common.errors import BadRequest
from aos_common.request_context import current_request_id
from aos_guard_logs.dependencies import READ_LOGS, ExportServiceDep, LogsServiceDep
from aos_guard_logs.exporting import ExportFormat
from aos_guard_logs.exports import ExportRequest, new_export_id
from aos_guard_logs.schemas import LogDetailRead, LogFilters, LogListRead

router = APIRouter(prefix="/api/v1/guard/logs", tags=["guard-logs"])

ReaderDep = Annotated[Principal, require_permission(READ_LOGS)]
MAX_EXPORT_ROWS = 100_000
UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")


class UnsupportedExportFormat(BadRequest):
    def __init__(self, requested: str) -> None:
        super().__init__(f"Unsupported export format '{requested}'; use json, csv or ndjson")


def _utc(moment: datetime | None) -> datetime | None:
    """Dates without an offset are read as UTC, as API.md writes every timestamp."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def log_filters(
    agent_id: str | None = None,
    status: str | None = None,
    from_date: datetime | None = None,
    to_date: datetime | None = None,
) -> LogFilters:
    """The filter query parameters every log list and export takes."""
    from_date, to_date = _utc(from_date), _utc(to_date)
    if from_date is not None and to_date is not None and from_date > to_date:
        raise BadRequest("from_date must not be after to_date")
    return LogFilters(agent_id=agent_id, status=status, from_date=from_date, to_date=to_date)


LogFiltersDep = Annotated[LogFilters, Depends(log_filters)]


@router.get("", response_model=LogListRead)
async def list_logs(
    principal: ReaderDep,
    logs: LogsServiceDep,
    filters: LogFiltersDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: OffsetQuery = 0,
    tenant_id: TenantQuery = None,
) -> Response:
    tenant = scoped_tenant(principal, tenant_id)
    page = await logs.list_logs(tenant, filters, limit=limit, offset=offset)
    return json_response(page)


@router.get(
    "/export",
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
async def export_logs(
    principal: ReaderDep,
    exports: ExportServiceDep,
    filters: LogFiltersDep,
    format: str = "json",
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)] = 1000,
    tenant_id: TenantQuery = None,
) -> Response:
    """Streamed export; recorded in `log_exports` and audited (`LogsExported`) when it ends."""
    tenant = scoped_tenant(principal, tenant_id)
    try:
        export_format = ExportFormat(format.lower())
    except ValueError:
        raise UnsupportedExportFormat(format) from None
    request = ExportRequest(
        export_id=new_export_id(),
        tenant_id=tenant,
        principal=principal,
        request_id=current_request_id(),
        format=export_format,
        filters=filters,
        limit=limit,
    )
    body = await exports.open(request)
    headers = {"X-Export-Id": request.export_id}
    if export_format is not ExportFormat.JSON:
        filename = f"logs_export_{UNSAFE_FILENAME.sub('_', tenant)}.{export_format.extension}"
        headers["Content-Disposition"] = f"attachment; filename={filename}"
    return StreamingResponse(body, media_type=export_format.media_type, headers=headers)


@router.get("/{log_id}", response_model=Envelope[LogDetailRead])
async def get_log(
    log_id: str, principal: ReaderDep, logs: LogsServiceDep, tenant_id: TenantQuery = None
) -> Response:
    tenant = scoped_tenant(principal, tenant_id)
    return json_response(envelope(await logs.detail(tenant, log_id)))


@router.get("/{log_id}/bundle", responses={200: {"content": {"application/zip": {}}}})
async def get_bundle(
    log_id: str, principal: ReaderDep, logs: LogsServiceDep, tenant_id: TenantQuery = None
) -> Response:
    """The run's evidence bundle; check it offline with `aos bundle verify FILE.zip`."""
    tenant = scoped_tenant(principal, tenant_id)
    filename, content = await logs.bundle(tenant, log_id, generated_at=iso_utc(utc_now()))
    domain_metrics.EXPORTS.labels("guard-logs", "bundle").inc()
    headers: dict[str, Any] = {"Content-Disposition": f"attachment; filename={filename}"}
    return Response(content, media_type="application/zip", headers=headers)
