"""Per-request wiring of the services from the app's shared clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aos_guard_logs.exports import ExportRecorder, ExportService
from aos_guard_logs.models import outbox
from aos_guard_logs.peers import Peers
from aos_guard_logs.service import LogsService

READ_LOGS = "read:logs"


def get_logs_service(request: Request) -> LogsService:
    return LogsService(Peers(request.app.state.http))


def get_export_service(request: Request) -> ExportService:
    relay = request.app.state.outbox_relay
    recorder = ExportRecorder(
        request.app.state.sessionmaker, outbox, relay.kick if relay is not None else None
    )
    return ExportService(Peers(request.app.state.http), recorder)


LogsServiceDep = Annotated[LogsService, Depends(get_logs_service)]
ExportServiceDep = Annotated[ExportService, Depends(get_export_service)]
