"""All SQL of trace ingestion: set-based inserts (one statement per table per call) and COPY for
steps, inside the request's transaction. First truth wins: a trace id already stored is left as
it is (`ON CONFLICT DO NOTHING`), and so is an idempotency key already recorded."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from aos_traces.domain.steps import Step
from aos_traces.domain.trace import Trace

STEP_COLUMNS = (
    "tenant_id",
    "trace_id",
    "step_index",
    "timestamp",
    "skill_id",
    "skill_name",
    "params",
    "status",
    "outcome_category",
    "outcome_code",
    "outcome_data",
    "cost_cents",
    "duration_ms",
    "retry_count",
    "source",
    "level",
    "input_hash",
    "output_hash",
    "rng_state_before",
    "idempotency_key",
    "replay_behavior",
    "span_id",
)

_TRACE_INSERT = """
INSERT INTO traces.traces (
    tenant_id, trace_id, run_id, correlation_id, agent_id, plan, metadata, started_at,
    completed_at, status, seed, frozen_timestamp, root_hash, client_root_hash, hash_verified,
    plan_hash, schema_version, is_synthetic, incident_id, replay_mode, level, total_steps,
    success_count, failure_count, total_cost_cents, total_duration_ms, source, hash_final_at)
SELECT t.tenant_id, t.trace_id, t.run_id, t.correlation_id, t.agent_id, t.plan::jsonb,
    t.metadata::jsonb, t.started_at, t.completed_at, t.status, t.seed, t.frozen_timestamp,
    t.root_hash, t.client_root_hash, t.hash_verified, t.plan_hash, t.schema_version,
    t.is_synthetic, t.incident_id, t.replay_mode, t.level, t.total_steps, t.success_count,
    t.failure_count, t.total_cost_cents, t.total_duration_ms, t.source, t.hash_final_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::timestamptz[], $9::timestamptz[], $10::text[], $11::bigint[], $12::text[], $13::text[],
    $14::text[], $15::boolean[], $16::text[], $17::text[], $18::boolean[], $19::text[],
    $20::text[], $21::text[], $22::int[], $23::int[], $24::int[], $25::float8[], $26::float8[],
    $27::text[], $28::timestamptz[])
    AS t(tenant_id, trace_id, run_id, correlation_id, agent_id, plan, metadata, started_at,
    completed_at, status, seed, frozen_timestamp, root_hash, client_root_hash, hash_verified,
    plan_hash, schema_version, is_synthetic, incident_id, replay_mode, level, total_steps,
    success_count, failure_count, total_cost_cents, total_duration_ms, source, hash_final_at)
ON CONFLICT (tenant_id, trace_id) DO NOTHING
RETURNING trace_id
"""

# The output itself stays in the step row (outcome_data); replay `skip` reads it from there.
_IDEMPOTENCY_INSERT = """
INSERT INTO traces.idempotency_records
    (tenant_id, idempotency_key, trace_id, step_index, status, output_hash)
SELECT $1::text, r.idempotency_key, r.trace_id, r.step_index, r.status, r.output_hash
FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[])
    AS r(idempotency_key, trace_id, step_index, status, output_hash)
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
"""

_MISMATCH_INSERT = """
INSERT INTO traces.trace_mismatches
    (tenant_id, id, trace_id, step_index, reason, expected_hash, actual_hash, details, reported_by)
SELECT m.tenant_id, m.id, m.trace_id, NULL, 'hash_mismatch', m.expected, m.actual,
    m.details::jsonb, 'system'
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS m(tenant_id, id, trace_id, expected, actual, details)
"""

_OUTBOX_INSERT = """
INSERT INTO traces.outbox (id, destination, path, payload)
SELECT o.id, o.destination, o.path, o.payload::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS o(id, destination, path, payload)
ON CONFLICT (id) DO NOTHING
"""


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def step_record(tenant_id: str, trace_id: str, step: Step) -> tuple[Any, ...]:
    return (
        tenant_id,
        trace_id,
        step.step_index,
        step.timestamp,
        step.skill_id[:256],
        step.skill_name[:256],
        step.stored_params(),
        step.status,
        step.outcome_category,
        step.outcome_code,
        step.stored_outcome(),
        step.cost_cents,
        step.duration_ms,
        step.retry_count,
        step.source,
        step.level,
        step.input_hash,
        step.output_hash,
        step.rng_state_before,
        step.idempotency_key,
        step.replay_behavior,
        step.span_id,
    )


async def insert_traces(connection: asyncpg.Connection, traces: Sequence[Trace]) -> set[str]:
    """Insert trace rows; returns the ids actually inserted (an existing id is left untouched)."""
    if not traces:
        return set()
    columns: list[list[Any]] = [[] for _ in range(28)]
    for trace in traces:
        values = (
            trace.tenant_id,
            trace.trace_id,
            trace.run_id,
            trace.correlation_id,
            trace.agent_id,
            _json(trace.plan),
            _json(trace.metadata),
            trace.started_at,
            trace.completed_at,
            trace.status,
            trace.seed,
            trace.frozen_timestamp,
            trace.root_hash,
            trace.client_root_hash,
            trace.hash_verified,
            trace.plan_hash,
            trace.schema_version,
            trace.is_synthetic,
            trace.incident_id,
            trace.replay_mode,
            trace.level,
            len(trace.steps),
            trace.success_count,
            trace.failure_count,
            trace.total_cost_cents,
            trace.total_duration_ms,
            trace.source,
            trace.hash_final_at,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    rows = await connection.fetch(_TRACE_INSERT, *columns)
    return {row["trace_id"] for row in rows}


async def copy_steps(connection: asyncpg.Connection, records: list[tuple[Any, ...]]) -> None:
    if records:
        await connection.copy_records_to_table(
            "trace_steps", schema_name="traces", columns=STEP_COLUMNS, records=records
        )


async def insert_idempotency_records(
    connection: asyncpg.Connection, tenant_id: str, trace_id_steps: Iterable[tuple[str, Step]]
) -> None:
    keyed = [
        (trace_id, step) for trace_id, step in trace_id_steps if step.idempotency_key is not None
    ]
    if keyed:
        await connection.execute(
            _IDEMPOTENCY_INSERT,
            tenant_id,
            [step.idempotency_key for _, step in keyed],
            [trace_id for trace_id, _ in keyed],
            [step.step_index for _, step in keyed],
            [step.status for _, step in keyed],
            [step.output_hash for _, step in keyed],
        )


async def insert_hash_mismatches(connection: asyncpg.Connection, traces: Sequence[Trace]) -> None:
    """A `hash_mismatch` mismatch for each trace whose client-sent root hash differs."""
    mismatched = [trace for trace in traces if not trace.hash_verified]
    if not mismatched:
        return
    await connection.execute(
        _MISMATCH_INSERT,
        [t.tenant_id for t in mismatched],
        [uuid.uuid4() for _ in mismatched],
        [t.trace_id for t in mismatched],
        [t.client_root_hash for t in mismatched],
        [t.root_hash for t in mismatched],
        [_json({"source": "ingest", "client_root_hash": t.client_root_hash}) for t in mismatched],
    )


async def insert_outbox_messages(
    connection: asyncpg.Connection, messages: Sequence[tuple[str, str, str, dict[str, Any]]]
) -> None:
    """(id, destination, path, payload) rows; the payload carries `id` for receiver dedup, as
    aos_common.outbox.enqueue does; set-based so a large OTLP export is one statement."""
    if not messages:
        return
    await connection.execute(
        _OUTBOX_INSERT,
        [m[0] for m in messages],
        [m[1] for m in messages],
        [m[2] for m in messages],
        [orjson.dumps({**m[3], "id": m[0]}).decode() for m in messages],
    )


async def lock_trace(session: AsyncSession, tenant_id: str, trace_id: str) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                text(
                    "SELECT trace_id, completed_at, seed, frozen_timestamp, started_at, status "
                    "FROM traces.traces WHERE tenant_id = :tenant AND trace_id = :trace FOR UPDATE"
                ),
                {"tenant": tenant_id, "trace": trace_id},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def delete_trace_rows(session: AsyncSession, tenant_id: str, trace_id: str) -> None:
    """Remove a not-yet-completed trace and its steps (overwrite)."""
    params = {"tenant": tenant_id, "trace": trace_id}
    await session.execute(
        text("DELETE FROM traces.trace_steps WHERE tenant_id = :tenant AND trace_id = :trace"),
        params,
    )
    await session.execute(
        text("DELETE FROM traces.traces WHERE tenant_id = :tenant AND trace_id = :trace"), params
    )


async def ensure_partitions(engine: AsyncEngine, months: Iterable[date], known: set[date]) -> None:
    """Create monthly step partitions outside the request transaction (DDL takes locks a long
    ingest should not hold); months that cannot get one fall into the default partition."""
    missing = sorted(set(months) - known)
    if not missing:
        return
    async with engine.connect() as connection:
        autocommit: AsyncConnection = await connection.execution_options(
            isolation_level="AUTOCOMMIT"
        )
        for month in missing:
            created = await autocommit.scalar(
                text("SELECT traces.ensure_step_partition(:month)"), {"month": month}
            )
            known.add(month)
            del created
