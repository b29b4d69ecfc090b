"""Reading, comparing, deleting and retiring traces (no HTTP here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aos_common.audit_outbox import enqueue_audit_entry, kick_outbox_after_commit
from aos_common.auth import Principal
from aos_common.errors import NotFound
from aos_traces.domain.compare import compare_traces
from aos_traces.models import outbox
from aos_traces.traces import repository
from aos_traces.traces.schemas import TraceDocument, TraceFilters


def not_found(key: str) -> NotFound:
    return NotFound(f"Trace {key} not found")


async def list_traces(
    session: AsyncSession, tenant_id: str, filters: TraceFilters, limit: int, offset: int
) -> dict[str, Any]:
    items, total = await repository.list_summaries(session, tenant_id, filters, limit, offset)
    dumped = [item.model_dump(mode="json") for item in items]
    return {"traces": dumped, "items": dumped, "total": total, "limit": limit, "offset": offset}


def stream_traces(
    connection: AsyncConnection, tenant_id: str, filters: TraceFilters, limit: int, offset: int
) -> AsyncIterator[dict[str, Any]]:
    return repository.stream_summaries(connection, tenant_id, filters, limit, offset)


async def summary(session: AsyncSession, tenant_id: str) -> dict[str, Any]:
    return await repository.summary_counts(session, tenant_id)


async def resolve_trace_id(session: AsyncSession, tenant_id: str, key: str) -> str:
    trace_id = await repository.find_trace_id(session, tenant_id, key)
    if trace_id is None:
        raise not_found(key)
    return trace_id


async def get_document(session: AsyncSession, tenant_id: str, key: str) -> TraceDocument:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    document = await repository.load_document(session, tenant_id, trace_id)
    if document is None:
        raise not_found(key)
    return document


async def get_by_root_hash(session: AsyncSession, tenant_id: str, root_hash: str) -> TraceDocument:
    trace_id = await repository.find_by_root_hash(session, tenant_id, root_hash)
    document = (
        None if trace_id is None else await repository.load_document(session, tenant_id, trace_id)
    )
    if document is None:
        raise NotFound(f"No trace found with root_hash {root_hash}")
    return document


async def by_incident(session: AsyncSession, tenant_id: str, incident_id: str) -> dict[str, Any]:
    traces = await repository.list_by_incident(session, tenant_id, incident_id)
    return {
        "incident_id": incident_id,
        "traces": [trace.model_dump(mode="json") for trace in traces],
        "total": len(traces),
    }


async def compare(session: AsyncSession, tenant_id: str, first: str, second: str) -> dict[str, Any]:
    one = await get_document(session, tenant_id, first)
    two = await get_document(session, tenant_id, second)
    return compare_traces(one.model_dump(mode="json"), two.model_dump(mode="json"))


async def idempotency_status(session: AsyncSession, tenant_id: str, key: str) -> dict[str, Any]:
    record = await repository.idempotency_record(session, tenant_id, key)
    if record is None:
        return {"executed": False}
    return {
        "executed": True,
        "trace_id": record["trace_id"],
        "step_index": record["step_index"],
        "status": record["status"],
        "output_hash": record["output_hash"],
    }


async def delete(
    session: AsyncSession, app: FastAPI, tenant_id: str, key: str, actor: Principal
) -> None:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    document = await repository.load_document(session, tenant_id, trace_id)
    if document is None or not await repository.delete_trace(session, tenant_id, trace_id):
        raise not_found(key)
    await _audit_trace_deleted(
        session,
        app,
        tenant_id=tenant_id,
        entity_id=trace_id,
        actor=actor,
        reason="Trace deleted",
        before_state={
            "trace_id": trace_id,
            "run_id": document.run_id,
            "root_hash": document.root_hash,
            "status": document.status,
            "total_steps": len(document.steps),
        },
    )


async def cleanup(
    session: AsyncSession, app: FastAPI, tenant_id: str, days: int, actor: Principal
) -> dict[str, Any]:
    cutoff = datetime.now(UTC) - timedelta(days=days)
    deleted = await repository.archive_and_delete_older_than(session, tenant_id, cutoff)
    if deleted:
        await _audit_trace_deleted(
            session,
            app,
            tenant_id=tenant_id,
            entity_id=f"retention:{days}d",
            actor=actor,
            reason=f"Retention cleanup: traces older than {days} days archived and deleted",
            before_state=None,
            after_state={"deleted_count": deleted, "cutoff": cutoff.isoformat()},
        )
    return {"deleted_count": deleted, "retention_days": days}


async def _audit_trace_deleted(
    session: AsyncSession,
    app: FastAPI,
    *,
    tenant_id: str,
    entity_id: str,
    actor: Principal,
    reason: str,
    before_state: dict[str, Any] | None,
    after_state: dict[str, Any] | None = None,
) -> None:
    """`TraceDeleted` in the ledger, its actor typed from the principal (an API key is an AGENT)."""
    await enqueue_audit_entry(
        session,
        outbox,
        tenant_id=tenant_id,
        event_type="TraceDeleted",
        entity_type="TRACE",
        entity_id=entity_id,
        actor=actor,
        action_reason=reason,
        before_state=before_state,
        after_state=after_state,
    )
    kick_outbox_after_commit(app, session)
