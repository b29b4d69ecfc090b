"""Routes of the log exports: the streamed export `/api/v1/guard/logs/export` and the export
history `/api/v1/logs/exports`. The app includes this router before the logs area's, so
`/guard/logs/export` is not read as a log id."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response, StreamingResponse

from aos_common.bounds import OffsetQuery
from aos_common.db import SessionDep
from aos_common.envelope import Envelope, PageEnvelope, envelope, json_response, page_envelope
from aos_common.errors import BadRequest, NotFound
from aos_common.request_context import current_request_id
from aos_guard_logs.dependencies import ExportServiceDep, LogFiltersDep, ReaderDep
from aos_guard_logs.domain.exporting import ExportFormat
from aos_guard_logs.exports.repository import LogExportRepository
from aos_guard_logs.exports.schemas import LogExportRead
from aos_guard_logs.exports.service import ExportRequest, new_export_id

router = APIRouter(prefix="/api/v1")

MAX_EXPORT_ROWS = 100_000
UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")


class UnsupportedExportFormat(BadRequest):
    def __init__(self, requested: str) -> None:
        super().__init__(f"Unsupported export format '{requested}'; use json, csv or ndjson")


class ExportNotFound(NotFound):
    def __init__(self, export_id: str) -> None:
        super().__init__(f"Export {export_id} not found or access denied")


@router.get(
    "/guard/logs/export",
    tags=["guard-logs"],
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
async def export_logs(
    caller: ReaderDep,
    exports: ExportServiceDep,
    filters: LogFiltersDep,
    format: str = "json",
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)] = 1000,
) -> Response:
    """Streamed export; recorded in `log_exports` and audited (`LogsExported`) when it ends."""
    tenant = caller.tenant_id
    try:
        export_format = ExportFormat(format.lower())
    except ValueError:
        raise UnsupportedExportFormat(format) from None
    request = ExportRequest(
        export_id=new_export_id(),
        tenant_id=tenant,
        principal=caller.principal,
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


@router.get("/logs/exports", tags=["logs"], response_model=PageEnvelope[list[LogExportRead]])
async def list_exports(
    caller: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> Response:
    """The tenant's export history, newest first."""
    tenant = caller.tenant_id
    items, total = await LogExportRepository(session).page(tenant, limit=limit, offset=offset)
    return json_response(page_envelope(items, total=total, limit=limit, offset=offset))


@router.get("/logs/exports/{export_id}", tags=["logs"], response_model=Envelope[LogExportRead])
async def get_export(export_id: str, caller: ReaderDep, session: SessionDep) -> Response:
    tenant = caller.tenant_id
    record = await LogExportRepository(session).get(tenant, export_id)
    if record is None:
        raise ExportNotFound(export_id)
    return json_response(envelope(record))
