"""All SQL of reading, deleting and archiving traces; every query is tenant-scoped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aos_common.db import tenant_scoped
from aos_traces.models import AmendmentRow, IdempotencyRecordRow, TraceRow, TraceStepRow
from aos_traces.traces.schemas import (
    AmendmentRead,
    StepRead,
    TraceDocument,
    TraceFilters,
    TraceSummary,
)

SUMMARY_COLUMNS = [getattr(TraceRow, name) for name in TraceSummary.model_fields]
STEP_COLUMNS = [getattr(TraceStepRow, name) for name in StepRead.model_fields]
DOCUMENT_COLUMNS = [
    getattr(TraceRow, "trace_metadata" if name == "metadata" else name)
    for name in TraceDocument.model_fields
    if name not in ("steps", "amendments")
]


def _filtered(statement: Select[Any], tenant_id: str, filters: TraceFilters) -> Select[Any]:
    statement = tenant_scoped(statement, TraceRow.tenant_id, tenant_id)
    for name in (
        "agent_id",
        "status",
        "root_hash",
        "plan_hash",
        "seed",
        "level",
        "is_synthetic",
        "incident_id",
        "run_id",
    ):
        value = getattr(filters, name)
        if value is not None:
            statement = statement.where(getattr(TraceRow, name) == value)
    if filters.from_date is not None:
        statement = statement.where(TraceRow.started_at >= filters.from_date)
    if filters.to_date is not None:
        statement = statement.where(TraceRow.started_at <= filters.to_date)
    if filters.as_of is not None:
        statement = statement.where(TraceRow.created_at <= filters.as_of)
    return statement


async def list_summaries(
    session: AsyncSession, tenant_id: str, filters: TraceFilters, limit: int, offset: int
) -> tuple[list[TraceSummary], int]:
    statement = _filtered(select(*SUMMARY_COLUMNS), tenant_id, filters)
    rows = (
        await session.execute(
            statement.order_by(TraceRow.started_at.desc(), TraceRow.trace_id)
            .limit(limit)
            .offset(offset)
        )
    ).mappings()
    items = [TraceSummary.model_validate(dict(row)) for row in rows]
    total = await session.scalar(_filtered(select(func.count()), tenant_id, filters))
    return items, int(total or 0)


async def stream_summaries(
    connection: AsyncConnection, tenant_id: str, filters: TraceFilters, limit: int, offset: int
) -> AsyncIterator[dict[str, Any]]:
    """Rows through a server-side cursor, so a 100,000-row export never sits in memory. Rows
    are plain dicts with TraceSummary's fields (validating 100,000 models costs more than the
    query; the columns are typed by the table)."""
    statement = _filtered(select(*SUMMARY_COLUMNS), tenant_id, filters)
    result = await connection.stream(
        statement.order_by(TraceRow.started_at.desc(), TraceRow.trace_id)
        .limit(limit)
        .offset(offset)
        .execution_options(yield_per=500)
    )
    async for row in result.mappings():
        yield dict(row)


async def summary_counts(session: AsyncSession, tenant_id: str) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    by_level: dict[str, int] = {}
    total = synthetic = 0
    statement = tenant_scoped(
        select(
            TraceRow.status,
            TraceRow.level,
            func.count().label("n"),
            func.count().filter(TraceRow.is_synthetic).label("synthetic"),
        ),
        TraceRow.tenant_id,
        tenant_id,
    ).group_by(TraceRow.status, TraceRow.level)
    for row in (await session.execute(statement)).mappings():
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        by_level[row["level"]] = by_level.get(row["level"], 0) + row["n"]
        total += row["n"]
        synthetic += row["synthetic"]
    return {
        "total": total,
        "synthetic_count": synthetic,
        "by_status": by_status,
        "by_level": by_level,
    }


async def find_trace_id(session: AsyncSession, tenant_id: str, key: str) -> str | None:
    """API.md lookup order: by trace_id, then by run_id (the most recent trace of that run)."""
    found = await session.scalar(
        tenant_scoped(select(TraceRow.trace_id), TraceRow.tenant_id, tenant_id).where(
            TraceRow.trace_id == key
        )
    )
    if found is not None:
        return str(found)
    found = await session.scalar(
        tenant_scoped(select(TraceRow.trace_id), TraceRow.tenant_id, tenant_id)
        .where(TraceRow.run_id == key)
        .order_by(TraceRow.created_at.desc())
        .limit(1)
    )
    return None if found is None else str(found)


async def find_by_root_hash(session: AsyncSession, tenant_id: str, root_hash: str) -> str | None:
    found = await session.scalar(
        tenant_scoped(select(TraceRow.trace_id), TraceRow.tenant_id, tenant_id)
        .where(TraceRow.root_hash == root_hash)
        .order_by(TraceRow.created_at)
        .limit(1)
    )
    return None if found is None else str(found)


async def load_steps(session: AsyncSession, tenant_id: str, trace_id: str) -> list[StepRead]:
    rows = (
        await session.execute(
            tenant_scoped(select(*STEP_COLUMNS), TraceStepRow.tenant_id, tenant_id)
            .where(TraceStepRow.trace_id == trace_id)
            .order_by(TraceStepRow.step_index)
        )
    ).mappings()
    return [StepRead.model_validate(dict(row)) for row in rows]


async def load_document(
    session: AsyncSession, tenant_id: str, trace_id: str
) -> TraceDocument | None:
    row = (
        (
            await session.execute(
                tenant_scoped(select(*DOCUMENT_COLUMNS), TraceRow.tenant_id, tenant_id).where(
                    TraceRow.trace_id == trace_id
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    data = dict(row)
    data["metadata"] = data.pop("trace_metadata")
    data["steps"] = await load_steps(session, tenant_id, trace_id)
    if data["amended_at"] is not None:
        data["amendments"] = await load_amendments(session, tenant_id, trace_id)
    return TraceDocument.model_validate(data)


async def load_amendments(
    session: AsyncSession, tenant_id: str, trace_id: str
) -> list[AmendmentRead]:
    columns = [getattr(AmendmentRow, name) for name in AmendmentRead.model_fields]
    rows = (
        await session.execute(
            tenant_scoped(select(*columns), AmendmentRow.tenant_id, tenant_id)
            .where(AmendmentRow.trace_id == trace_id)
            .order_by(AmendmentRow.created_at, AmendmentRow.id)
        )
    ).mappings()
    return [AmendmentRead.model_validate(dict(row)) for row in rows]


async def list_by_incident(
    session: AsyncSession, tenant_id: str, incident_id: str
) -> list[TraceSummary]:
    rows = (
        await session.execute(
            tenant_scoped(select(*SUMMARY_COLUMNS), TraceRow.tenant_id, tenant_id)
            .where(TraceRow.incident_id == incident_id)
            .order_by(TraceRow.started_at)
        )
    ).mappings()
    return [TraceSummary.model_validate(dict(row)) for row in rows]


async def delete_trace(session: AsyncSession, tenant_id: str, trace_id: str) -> bool:
    await session.execute(
        delete(TraceStepRow).where(
            TraceStepRow.tenant_id == tenant_id, TraceStepRow.trace_id == trace_id
        )
    )
    for table in ("trace_evidence", "replay_checks", "trace_amendments"):
        await session.execute(
            text(f"DELETE FROM traces.{table} WHERE tenant_id = :t AND trace_id = :id"),
            {"t": tenant_id, "id": trace_id},
        )
    result = await session.execute(
        delete(TraceRow)
        .where(TraceRow.tenant_id == tenant_id, TraceRow.trace_id == trace_id)
        .returning(TraceRow.trace_id)
    )
    return result.first() is not None


_ARCHIVE = """
WITH doomed AS (
    SELECT trace_id FROM traces.traces WHERE tenant_id = :tenant AND started_at < :cutoff
), archived_steps AS (
    INSERT INTO traces.trace_steps_archive ({step_columns})
    SELECT {step_columns_s} FROM traces.trace_steps s
    WHERE s.tenant_id = :tenant AND s.trace_id IN (SELECT trace_id FROM doomed)
    ON CONFLICT DO NOTHING
)
INSERT INTO traces.traces_archive ({trace_columns})
SELECT {trace_columns} FROM traces.traces
WHERE tenant_id = :tenant AND trace_id IN (SELECT trace_id FROM doomed)
ON CONFLICT DO NOTHING
"""

_TRACE_ARCHIVE_COLUMNS = [
    column.name for column in TraceRow.__table__.columns if column.name != "archived_at"
]
_STEP_ARCHIVE_COLUMNS = [column.name for column in TraceStepRow.__table__.columns]


async def archive_and_delete_older_than(
    session: AsyncSession, tenant_id: str, cutoff: datetime
) -> int:
    """Copy traces started before `cutoff` (and their steps) to the archive tables, then delete
    them; returns how many traces were deleted."""
    params = {"tenant": tenant_id, "cutoff": cutoff}
    await session.execute(
        text(
            _ARCHIVE.format(
                step_columns=", ".join(f'"{c}"' for c in _STEP_ARCHIVE_COLUMNS),
                step_columns_s=", ".join(f's."{c}"' for c in _STEP_ARCHIVE_COLUMNS),
                trace_columns=", ".join(f'"{c}"' for c in _TRACE_ARCHIVE_COLUMNS),
            )
        ),
        params,
    )
    doomed = "SELECT trace_id FROM traces.traces WHERE tenant_id = :tenant AND started_at < :cutoff"
    await session.execute(
        text(
            f"DELETE FROM traces.trace_steps WHERE tenant_id = :tenant AND trace_id IN ({doomed})"
        ),
        params,
    )
    result = await session.execute(
        text("DELETE FROM traces.traces WHERE tenant_id = :tenant AND started_at < :cutoff"),
        params,
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def idempotency_record(
    session: AsyncSession, tenant_id: str, key: str
) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                tenant_scoped(
                    select(
                        IdempotencyRecordRow.trace_id,
                        IdempotencyRecordRow.step_index,
                        IdempotencyRecordRow.status,
                        IdempotencyRecordRow.output_hash,
                        IdempotencyRecordRow.output,
                    ),
                    IdempotencyRecordRow.tenant_id,
                    tenant_id,
                ).where(IdempotencyRecordRow.idempotency_key == key)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)
