"""All SQL of replay mismatches; every query is tenant-scoped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_traces.mismatches.schemas import MismatchRead
from aos_traces.models import MismatchRow

READ_COLUMNS = [
    MismatchRow.id.label("mismatch_id"),
    MismatchRow.trace_id,
    MismatchRow.step_index,
    MismatchRow.reason,
    MismatchRow.expected_hash,
    MismatchRow.actual_hash,
    MismatchRow.details,
    MismatchRow.notification_sent,
    MismatchRow.issue_url,
    MismatchRow.resolved,
    MismatchRow.resolved_at,
    MismatchRow.resolved_by,
    MismatchRow.created_at,
]


async def insert_mismatch(
    session: AsyncSession,
    *,
    tenant_id: str,
    trace_id: str,
    step_index: int | None,
    reason: str,
    expected_hash: str | None,
    actual_hash: str | None,
    details: Any,
    reported_by: str,
) -> uuid.UUID:
    mismatch_id = uuid.uuid4()
    await session.execute(
        insert(MismatchRow).values(
            tenant_id=tenant_id,
            id=mismatch_id,
            trace_id=trace_id,
            step_index=step_index,
            reason=reason,
            expected_hash=expected_hash,
            actual_hash=actual_hash,
            details=details,
            reported_by=reported_by,
        )
    )
    return mismatch_id


async def mark_notified(
    session: AsyncSession, tenant_id: str, ids: Sequence[uuid.UUID], issue_url: str | None
) -> None:
    await session.execute(
        update(MismatchRow)
        .where(MismatchRow.tenant_id == tenant_id, MismatchRow.id.in_(list(ids)))
        .values(notification_sent=True, issue_url=issue_url)
    )


async def list_for_trace(
    session: AsyncSession, tenant_id: str, trace_id: str
) -> list[MismatchRead]:
    rows = (
        await session.execute(
            tenant_scoped(select(*READ_COLUMNS), MismatchRow.tenant_id, tenant_id)
            .where(MismatchRow.trace_id == trace_id)
            .order_by(MismatchRow.created_at.desc())
        )
    ).mappings()
    return [MismatchRead.model_validate(dict(row)) for row in rows]


async def list_recent(
    session: AsyncSession, tenant_id: str, since: datetime, resolved: bool | None, limit: int
) -> tuple[list[MismatchRead], int, dict[str, int]]:
    window = tenant_scoped(select(*READ_COLUMNS), MismatchRow.tenant_id, tenant_id).where(
        MismatchRow.created_at >= since
    )
    filtered = window if resolved is None else window.where(MismatchRow.resolved == resolved)
    rows = (
        await session.execute(filtered.order_by(MismatchRow.created_at.desc()).limit(limit))
    ).mappings()
    items = [MismatchRead.model_validate(dict(row)) for row in rows]
    counts = (
        await session.execute(
            tenant_scoped(
                select(MismatchRow.resolved, func.count()), MismatchRow.tenant_id, tenant_id
            )
            .where(MismatchRow.created_at >= since)
            .group_by(MismatchRow.resolved)
        )
    ).all()
    summary = {"open": 0, "resolved": 0}
    for is_resolved, count in counts:
        summary["resolved" if is_resolved else "open"] += int(count)
    total = (
        summary["open"] + summary["resolved"]
        if resolved is None
        else (summary["resolved" if resolved else "open"])
    )
    return items, total, summary


async def resolve(
    session: AsyncSession,
    tenant_id: str,
    trace_id: str,
    mismatch_id: uuid.UUID,
    resolved_by: str,
    note: str | None,
) -> str | bool | None:
    """Mark resolved; returns the issue url (or None), or False when there is no such mismatch."""
    result = await session.execute(
        update(MismatchRow)
        .where(
            MismatchRow.tenant_id == tenant_id,
            MismatchRow.trace_id == trace_id,
            MismatchRow.id == mismatch_id,
        )
        .values(
            resolved=True,
            resolved_at=func.now(),
            resolved_by=resolved_by,
            resolution_note=note,
        )
        .returning(MismatchRow.issue_url)
    )
    row = result.first()
    return False if row is None else row[0]


async def fetch_many(
    session: AsyncSession, tenant_id: str, ids: Sequence[uuid.UUID]
) -> list[MismatchRead]:
    rows = (
        await session.execute(
            tenant_scoped(select(*READ_COLUMNS), MismatchRow.tenant_id, tenant_id)
            .where(MismatchRow.id.in_(list(ids)))
            .order_by(MismatchRow.trace_id, MismatchRow.step_index)
        )
    ).mappings()
    return [MismatchRead.model_validate(dict(row)) for row in rows]
