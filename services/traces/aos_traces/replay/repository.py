"""All SQL of server-side replay checks."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_traces.models import IdempotencyRecordRow, ReplayCheckRow, TraceStepRow


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
