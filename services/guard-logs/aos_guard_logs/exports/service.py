"""Streamed exports: rows proxied from the traces stream, serialized, hashed, then recorded.

The export route answers with a streaming body, so the request's database session (SessionDep)
has long been committed and closed when the last byte leaves. The record of the export and its
`LogsExported` audit message are therefore written at the end of the stream in a fresh
transaction of their own (`ExportRecorder`), once the row count and the SHA-256 of the bytes
sent are known. An export cut short (the client went away, the traces stream broke) is recorded
and audited too, with status `aborted` or `failed`: whatever left the building is on record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.auth import Principal
from aos_common.db import on_commit, session_scope
from aos_common.envelope import iso_utc, utc_now
from aos_common.ids import new_id
from aos_guard_logs.domain.exporting import ExportFormat, ExportStats, log_row, serialize
from aos_guard_logs.exports.repository import LogExportRepository
from aos_guard_logs.exports.schemas import LogExportCreate
from aos_guard_logs.logs.peers import Peers
from aos_guard_logs.logs.schemas import LogFilters

logger = logging.getLogger("aos.guard_logs.exports")
# Export records still being written after their response ended (asyncio keeps only weak refs).
_RECORDING: set[asyncio.Task[Any]] = set()


def new_export_id() -> str:
    return new_id("lx_")


def new_audit_entry_id() -> str:
    return new_id("al_")


@dataclass(frozen=True)
class ExportRequest:
    export_id: str
    tenant_id: str
    principal: Principal
    request_id: str | None
    format: ExportFormat
    filters: LogFilters
    limit: int

    def recorded_filters(self) -> dict[str, Any]:
        return {**self.filters.as_query(), "limit": self.limit}


def export_after_state(record: LogExportCreate) -> dict[str, Any]:
    """What the `LogsExported` entry keeps: what was exported, and the digest of what was sent."""
    return {
        "export_id": record.id,
        "format": record.format,
        "filters": record.filters,
        "status": record.status,
        "row_count": record.row_count,
        "byte_count": record.byte_count,
        "sha256": record.sha256,
    }


class ExportRecorder:
    """Writes the export record and its audit message in one transaction of its own."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Table,
        kick: Callable[[], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._kick = kick

    async def _after_commit(self) -> None:
        if self._kick is not None:
            self._kick()

    async def record(
        self,
        request: ExportRequest,
        stats: ExportStats,
        *,
        status: str,
        started_at: datetime,
        duration_ms: int,
    ) -> LogExportCreate:
        record = LogExportCreate(
            id=request.export_id,
            tenant_id=request.tenant_id,
            principal_id=request.principal.principal_id,
            principal_type=request.principal.principal_type,
            key_id=request.principal.key_id,
            request_id=request.request_id,
            format=request.format.value,
            filters=request.recorded_filters(),
            status=status,
            row_count=stats.row_count,
            byte_count=stats.byte_count,
            sha256=stats.sha256,
            started_at=started_at,
            completed_at=utc_now(),
            duration_ms=duration_ms,
            audit_entry_id=new_audit_entry_id(),
        )
        async for session in session_scope(self._sessionmaker):
            await LogExportRepository(session).add(record)
            await enqueue_audit_entry(
                session,
                self._outbox,
                tenant_id=request.tenant_id,
                event_type="LogsExported",
                entity_type="EXPORT",
                entity_id=record.id,
                actor=request.principal,
                action_reason=(
                    f"Exported {record.row_count} logs as {record.format} ({record.status})"
                ),
                after_state=export_after_state(record),
                entry_id=record.audit_entry_id,
            )
            on_commit(session, self._after_commit)
        return record


async def _limited(
    rows: AsyncIterator[Mapping[str, Any]], limit: int
) -> AsyncIterator[dict[str, Any]]:
    count = 0
    async for summary in rows:
        if count >= limit:
            break
        count += 1
        yield log_row(summary)


class ExportService:
    def __init__(self, peers: Peers, recorder: ExportRecorder) -> None:
        self._peers = peers
        self._recorder = recorder

    async def open(self, request: ExportRequest) -> AsyncIterator[bytes]:
        """Open the upstream stream now (so an outage is a clean 503) and return the body.

        The body owns the upstream stream: it closes it and records the export when it ends,
        however it ends.
        """
        stack = AsyncExitStack()
        rows = await stack.enter_async_context(
            self._peers.trace_log_stream(
                request.tenant_id, request.filters.as_query(), limit=request.limit
            )
        )
        return self._body(request, rows, stack)

    async def _body(
        self, request: ExportRequest, rows: AsyncIterator[dict[str, Any]], stack: AsyncExitStack
    ) -> AsyncIterator[bytes]:
        stats = ExportStats()
        started_at = utc_now()
        started = time.perf_counter()
        now = iso_utc(started_at)
        status = "failed"
        try:
            async for chunk in serialize(
                request.format,
                _limited(rows, request.limit),
                stats,
                exported_at=now,
                request_id=request.request_id or "",
                timestamp=now,
            ):
                yield chunk
            status = "completed"
        except (GeneratorExit, asyncio.CancelledError):
            status = "aborted"
            raise
        finally:
            task = asyncio.ensure_future(
                self._recorder.record(
                    request,
                    stats,
                    status=status,
                    started_at=started_at,
                    duration_ms=int((time.perf_counter() - started) * 1000),
                )
            )
            _RECORDING.add(task)
            task.add_done_callback(_finished)
            try:
                await stack.aclose()
            finally:
                # Shielded: a client that went away cancels the response, never the record.
                await asyncio.shield(task)


def _finished(task: asyncio.Task[Any]) -> None:
    _RECORDING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("export record failed", exc_info=task.exception())
