"""SQL specific to OTLP ingestion: spans joining a trace that is already stored."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aos_traces.ingest.repository import STEP_COLUMNS


async def lock_existing(
    session: AsyncSession, tenant_id: str, trace_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The traces among `trace_ids` already stored, locked in trace id order, each looked up by
    its full primary key: as `trace_id = ANY(:ids)` the prepared statement's generic plan could
    scan every trace of the tenant (as cost-intel's reservation lookups did)."""
    rows = (
        await session.execute(
            text(
                "SELECT t.*, now() AS now FROM unnest(CAST(:ids AS text[])) AS q(trace_id) "
                "CROSS JOIN LATERAL (SELECT trace_id, run_id, completed_at, total_steps, seed, "
                "frozen_timestamp, status, root_hash, hash_final_at, final_root_hash "
                "FROM traces.traces WHERE tenant_id = :tenant AND trace_id = q.trace_id "
                "FOR UPDATE) t ORDER BY q.trace_id"
            ),
            {"tenant": tenant_id, "ids": sorted(set(trace_ids))},
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
                "idempotency_key, replay_behavior, span_id, timestamp FROM traces.trace_steps "
                "WHERE tenant_id = :tenant AND trace_id = :trace ORDER BY step_index"
            ),
            {"tenant": tenant_id, "trace": trace_id},
        )
    ).mappings()
    return [dict(row) for row in rows]


async def take_steps(
    connection: asyncpg.Connection, tenant_id: str, trace_id: str
) -> dict[str | None, tuple[Any, ...]]:
    """Delete a trace's steps and return them as COPY records keyed by span id (steps are
    append-only: renumbering is a delete and a re-insert, inside the request's transaction)."""
    rows = await connection.fetch(
        f"DELETE FROM traces.trace_steps WHERE tenant_id = $1 AND trace_id = $2 "
        f"RETURNING {', '.join(STEP_COLUMNS)}",
        tenant_id,
        trace_id,
    )
    return {
        row["span_id"]: tuple(_copyable(row, column) for column in STEP_COLUMNS) for row in rows
    }


def _copyable(row: asyncpg.Record, column: str) -> Any:
    """COPY takes jsonb as text; the session's codec has decoded it."""
    value = row[column]
    if column in _JSON_COLUMNS and value is not None and not isinstance(value, str):
        return orjson.dumps(value).decode()
    return value


_JSON_COLUMNS = frozenset({"params", "outcome_data"})


async def renumber_idempotency_records(
    connection: asyncpg.Connection, tenant_id: str, keys: list[str], indexes: list[int]
) -> None:
    if keys:
        await connection.execute(
            "UPDATE traces.idempotency_records r SET step_index = n.step_index "
            "FROM unnest($2::text[], $3::int[]) AS n(idempotency_key, step_index) "
            "WHERE r.tenant_id = $1 AND r.idempotency_key = n.idempotency_key",
            tenant_id,
            keys,
            indexes,
        )


async def refresh_trace(
    session: AsyncSession,
    *,
    tenant_id: str,
    trace_id: str,
    root_hash: str,
    completed_at: datetime | None,
    status: str,
    started_at: datetime,
    hash_final_at: datetime | None,
    amended: bool,
) -> None:
    """Recompute the aggregates from the stored steps after spans joined the trace. An
    amendment keeps the hash the trace had when it became final in `final_root_hash`."""
    await session.execute(
        text(
            """
            UPDATE traces.traces t SET
                root_hash = :root_hash,
                completed_at = coalesce(t.completed_at, :completed_at),
                status = :status,
                hash_final_at = coalesce(t.hash_final_at, :hash_final_at),
                final_root_hash = CASE WHEN :amended
                    THEN coalesce(t.final_root_hash, t.root_hash) ELSE t.final_root_hash END,
                amended_at = CASE WHEN :amended THEN now() ELSE t.amended_at END,
                total_steps = s.total_steps,
                success_count = s.success_count,
                failure_count = s.failure_count,
                total_cost_cents = s.total_cost_cents,
                total_duration_ms = s.total_duration_ms,
                level = s.level,
                started_at = LEAST(t.started_at, :started_at, s.first_step)
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
            "started_at": started_at,
            "hash_final_at": hash_final_at,
            "amended": amended,
        },
    )


async def insert_amendment(
    connection: asyncpg.Connection,
    *,
    tenant_id: str,
    trace_id: str,
    previous_root_hash: str,
    root_hash: str,
    span_ids: list[str],
) -> None:
    await connection.execute(
        "INSERT INTO traces.trace_amendments (tenant_id, id, trace_id, previous_root_hash, "
        "root_hash, steps_added, span_ids) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        tenant_id,
        uuid.uuid4(),
        trace_id,
        previous_root_hash,
        root_hash,
        len(span_ids),
        orjson.dumps(span_ids).decode(),
    )
