"""All SQL of evidence and capture failures."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_traces.models import EvidenceRow, TraceRow


async def insert_evidence(
    session: AsyncSession,
    *,
    tenant_id: str,
    trace_id: str,
    evidence_class: str,
    failure_type: str | None,
    details: Any,
    recorded_by: str,
) -> dict[str, Any]:
    evidence_id = uuid.uuid4()
    row = (
        await session.execute(
            insert(EvidenceRow)
            .values(
                tenant_id=tenant_id,
                id=evidence_id,
                trace_id=trace_id,
                evidence_class=evidence_class,
                failure_type=failure_type,
                details=details,
                recorded_by=recorded_by,
            )
            .returning(EvidenceRow.created_at)
        )
    ).one()
    return {"evidence_id": str(evidence_id), "created_at": row.created_at}


async def list_evidence(
    session: AsyncSession, tenant_id: str, trace_id: str
) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            tenant_scoped(
                select(
                    EvidenceRow.evidence_class,
                    EvidenceRow.failure_type,
                    EvidenceRow.details,
                    EvidenceRow.created_at,
                ),
                EvidenceRow.tenant_id,
                tenant_id,
            )
            .where(EvidenceRow.trace_id == trace_id)
            .order_by(EvidenceRow.created_at, EvidenceRow.id)
        )
    ).mappings()
    return [dict(row) for row in rows]


async def trace_state(
    session: AsyncSession, tenant_id: str, trace_id: str
) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                tenant_scoped(
                    select(TraceRow.completed_at, TraceRow.total_steps),
                    TraceRow.tenant_id,
                    tenant_id,
                ).where(TraceRow.trace_id == trace_id)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)
