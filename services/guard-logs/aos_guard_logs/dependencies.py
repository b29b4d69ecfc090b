"""Per-request wiring: who may read logs, the services built from the app's shared clients, and
the filter parameters every log list and export takes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from aos_common.callers import Caller, caller_with_permission
from aos_common.errors import BadRequest
from aos_common.state import service_state
from aos_guard_logs.exports.service import ExportRecorder, ExportService
from aos_guard_logs.logs.peers import Peers
from aos_guard_logs.logs.schemas import LogFilters
from aos_guard_logs.logs.service import LogsService
from aos_guard_logs.models import outbox

READ_LOGS = "read:logs"


def get_logs_service(request: Request) -> LogsService:
    return LogsService(Peers(service_state(request.app).http))


def get_export_service(request: Request) -> ExportService:
    state = service_state(request.app)
    relay = state.outbox_relay
    recorder = ExportRecorder(state.sessionmaker, outbox, relay.kick if relay is not None else None)
    return ExportService(Peers(state.http), recorder)


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


LogsServiceDep = Annotated[LogsService, Depends(get_logs_service)]
ExportServiceDep = Annotated[ExportService, Depends(get_export_service)]
LogFiltersDep = Annotated[LogFilters, Depends(log_filters)]
ReaderDep = Annotated[Caller, caller_with_permission(READ_LOGS)]
