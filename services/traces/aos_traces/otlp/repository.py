"""SQL specific to OTLP ingestion: appending spans to a trace that is still open."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def lock_existing(
    session: AsyncSession, tenant_id: str, trace_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    rows = (
        await session.execute(
            text(
                "SELECT trace_id, run_id, completed_at, total_steps, seed, frozen_timestamp, "
                "status FROM traces.traces WHERE tenant_id = :tenant "
                "AND trace_id = ANY(:ids) FOR UPDATE"
            ),
            {"tenant": tenant_id, "ids": list(trace_ids)},
        )
    ).mappings()
    return {row["trace_id"]: dict(row) for row in rows}


async def existing_steps(
    session: AsyncSession, tenant_id: str, trace_id: str
) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            text(
                "SELECT step_index, skill_id, input_hash, output_hash, rng_state_before, status, "
                "idempotency_key, replay_behavior, span_id FROM traces.trace_steps "
                "WHERE tenant_id = :tenant AND trace_id = :trace ORDER BY step_index"
            ),
            {"tenant": tenant_id, "trace": trace_id},
        )
    ).mappings()
    return [dict(row) for row in rows]


async def refresh_trace(
    session: AsyncSession,
    *,
    tenant_id: str,
    trace_id: str,
    root_hash: str,
    completed_at: datetime | None,
    status: str,
) -> None:
    """Recompute the aggregates from the stored steps after an append."""
    await session.execute(
        text(
            """
            UPDATE traces.traces t SET
                root_hash = :root_hash,
                completed_at = :completed_at,
                status = :status,
                total_steps = s.total_steps,
                success_count = s.success_count,
                failure_count = s.failure_count,
                total_cost_cents = s.total_cost_cents,
                total_duration_ms = s.total_duration_ms,
                level = s.level,
                started_at = LEAST(t.started_at, s.first_step)
            FROM (
                SELECT count(*) AS total_steps,
                    count(*) FILTER (WHERE status = 'success') AS success_count,
                    count(*) FILTER (WHERE status = 'failure') AS failure_count,
                    coalesce(sum(cost_cents), 0) AS total_cost_cents,
                    coalesce(sum(duration_ms), 0) AS total_duration_ms,
                    CASE WHEN bool_or(level = 'ERROR') THEN 'ERROR'
                         WHEN bool_or(level = 'WARN') THEN 'WARN' ELSE 'INFO' END AS level,
                    min(timestamp) AS first_step
                FROM traces.trace_steps WHERE tenant_id = :tenant AND trace_id = :trace
            ) s
            WHERE t.tenant_id = :tenant AND t.trace_id = :trace
            """
        ),
        {
            "tenant": tenant_id,
            "trace": trace_id,
            "root_hash": root_hash,
            "completed_at": completed_at,
            "status": status,
        },
    )
