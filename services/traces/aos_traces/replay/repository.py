"""All SQL of server-side replay checks."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_traces.models import IdempotencyRecordRow, ReplayCheckRow, TraceStepRow
from aos_traces.replay.schemas import ReplayCheckRead


async def load_step(
    session: AsyncSession, tenant_id: str, trace_id: str, step_index: int
) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                tenant_scoped(
                    select(
                        TraceStepRow.step_index,
                        TraceStepRow.status,
                        TraceStepRow.output_hash,
                        TraceStepRow.idempotency_key,
                        TraceStepRow.replay_behavior,
                    ),
                    TraceStepRow.tenant_id,
                    tenant_id,
                ).where(TraceStepRow.trace_id == trace_id, TraceStepRow.step_index == step_index)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


async def record_check(
    session: AsyncSession,
    *,
    tenant_id: str,
    trace_id: str,
    step_index: int,
    behavior: str,
    expected_hash: str | None,
    actual_hash: str | None,
    match: bool | None,
    checked_by: str,
) -> None:
    await session.execute(
        insert(ReplayCheckRow).values(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            trace_id=trace_id,
            step_index=step_index,
            behavior=behavior,
            expected_hash=expected_hash,
            actual_hash=actual_hash,
            match=match,
            checked_by=checked_by[:128],
        )
    )


async def record_execution(
    session: AsyncSession,
    *,
    tenant_id: str,
    key: str,
    trace_id: str,
    step_index: int,
    status: str,
    output_hash: str,
    output: Any,
) -> bool:
    """First truth wins: returns False when the key had already been recorded."""
    result = await session.execute(
        pg_insert(IdempotencyRecordRow)
        .values(
            tenant_id=tenant_id,
            idempotency_key=key,
            trace_id=trace_id,
            step_index=step_index,
            status=status,
            output_hash=output_hash,
            output=output,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        .returning(IdempotencyRecordRow.idempotency_key)
    )
    return result.first() is not None


async def step_output(session: AsyncSession, tenant_id: str, trace_id: str, step_index: int) -> Any:
    return await session.scalar(
        tenant_scoped(select(TraceStepRow.outcome_data), TraceStepRow.tenant_id, tenant_id).where(
            TraceStepRow.trace_id == trace_id, TraceStepRow.step_index == step_index
        )
    )


CHECK_COLUMNS = (
    ReplayCheckRow.id.label("check_id"),
    ReplayCheckRow.trace_id,
    ReplayCheckRow.step_index,
    ReplayCheckRow.behavior.label("replay_behavior"),
    ReplayCheckRow.match,
    ReplayCheckRow.expected_hash,
    ReplayCheckRow.actual_hash,
    ReplayCheckRow.checked_by,
    ReplayCheckRow.created_at.label("checked_at"),
)


async def list_checks(
    session: AsyncSession,
    tenant_id: str,
    trace_id: str,
    *,
    step_index: int | None,
    latest_per_step: bool,
    limit: int,
    offset: int,
) -> tuple[list[ReplayCheckRead], int]:
    """One trace's replay checks, newest first; with `latest_per_step` only each step's newest
    check, in step order (what a step's replay state is now)."""
    base = tenant_scoped(select(*CHECK_COLUMNS), ReplayCheckRow.tenant_id, tenant_id).where(
        ReplayCheckRow.trace_id == trace_id
    )
    if step_index is not None:
        base = base.where(ReplayCheckRow.step_index == step_index)
    newest = (ReplayCheckRow.created_at.desc(), ReplayCheckRow.id.desc())
    listed: Select[Any]
    if latest_per_step:
        latest = (
            base.distinct(ReplayCheckRow.step_index)
            .order_by(ReplayCheckRow.step_index, *newest)
            .subquery()
        )
        listed = select(latest).order_by(latest.c.step_index)
    else:
        listed = base.order_by(*newest)
    total = await session.scalar(select(func.count()).select_from(listed.order_by(None).subquery()))
    rows = (await session.execute(listed.limit(limit).offset(offset))).mappings()
    return [ReplayCheckRead.model_validate(dict(row)) for row in rows], int(total or 0)
