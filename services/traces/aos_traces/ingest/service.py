"""Storing traces: one at a time (POST /api/v1/traces) or in bulk (POST /api/v1/traces/batch).

Validation, hashing and redaction are pure and run before any SQL; the writes are set-based
(one statement per table, COPY for steps) inside the request's single transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aos_common.db import driver_connection
from aos_common.errors import BadRequest, Conflict, Forbidden, PayloadTooLarge
from aos_traces.domain.errors import TraceInputError
from aos_traces.domain.gc_pause import gc_paused
from aos_traces.domain.steps import Step
from aos_traces.domain.trace import Trace, normalize_trace
from aos_traces.ingest import repository

PARTITION_MONTHS_BACK = 24
PARTITION_MONTHS_AHEAD = 3


@dataclass
class IngestContext:
    """What ingestion needs beyond the session: the engine (for partition DDL outside the
    request transaction) and the months known to have a partition in this process."""

    engine: AsyncEngine
    partitions: set[date] = field(default_factory=set)


def _month(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def _months_between(first: date, second: date) -> int:
    return (second.year - first.year) * 12 + second.month - first.month


async def prepare_partitions(context: IngestContext, steps: Iterable[Step]) -> None:
    current = _month(datetime.now(UTC))
    seen = {(moment.year, moment.month) for moment in (step.timestamp for step in steps)}
    months = {
        month
        for month in (date(year, number, 1) for year, number in seen)
        if -PARTITION_MONTHS_BACK <= _months_between(current, month) <= PARTITION_MONTHS_AHEAD
    }
    await repository.ensure_partitions(context.engine, months, context.partitions)


async def write_new_traces(session: AsyncSession, traces: Sequence[Trace]) -> set[str]:
    """Insert traces whose id is not stored yet, with their steps, idempotency records and
    hash-mismatch records. Returns the ids inserted."""
    connection = await driver_connection(session)
    inserted = await repository.insert_traces(connection, traces)
    fresh = [trace for trace in traces if trace.trace_id in inserted]
    records = [
        repository.step_record(trace.tenant_id, trace.trace_id, step)
        for trace in fresh
        for step in trace.steps
    ]
    await repository.copy_steps(connection, records)
    by_tenant: dict[str, list[tuple[str, Any]]] = {}
    for trace in fresh:
        by_tenant.setdefault(trace.tenant_id, []).extend((trace.trace_id, s) for s in trace.steps)
    for tenant_id, steps in by_tenant.items():
        await repository.insert_idempotency_records(connection, tenant_id, steps)
    await repository.insert_hash_mismatches(connection, fresh)
    return inserted


def unwrap(body: Any) -> tuple[Any, bool]:
    """`{trace: {...}, overwrite}` or the bare trace."""
    if isinstance(body, dict) and isinstance(body.get("trace"), dict):
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise TraceInputError("overwrite must be a boolean")
        return body["trace"], overwrite
    return body, False


def check_tenant(raw: Any, tenant_id: str, is_operator: bool) -> None:
    sent = raw.get("tenant_id") if isinstance(raw, dict) else None
    if sent is not None and sent != tenant_id and not is_operator:
        raise Forbidden("Cannot access other tenant's data")


async def store_trace(
    session: AsyncSession, context: IngestContext, body: Any, tenant_id: str, is_operator: bool
) -> dict[str, Any]:
    try:
        raw, overwrite = unwrap(body)
        check_tenant(raw, tenant_id, is_operator)
        trace = normalize_trace(raw, tenant_id, datetime.now(UTC))
    except TraceInputError as error:
        raise BadRequest(error.detail) from error
    await prepare_partitions(context, trace.steps)
    existing = await repository.lock_trace(session, tenant_id, trace.trace_id)
    if existing is not None:
        if not overwrite:
            raise Conflict(f"Trace {trace.trace_id} already exists")
        if existing["completed_at"] is not None:
            raise Conflict(f"Trace {trace.trace_id} is completed and immutable")
        await repository.delete_trace_rows(session, tenant_id, trace.trace_id)
    inserted = await write_new_traces(session, [trace])
    if trace.trace_id not in inserted:
        raise Conflict(f"Trace {trace.trace_id} already exists")
    return {
        "trace_id": trace.trace_id,
        "run_id": trace.run_id,
        "root_hash": trace.root_hash,
        "hash_verified": trace.hash_verified,
        "stored": True,
        "replay_mode": trace.replay_mode,
    }


# --- bulk -----------------------------------------------------------------------------------------


@dataclass
class BatchItem:
    index: int
    trace: Trace | None = None
    error: str | None = None
    status: str = "rejected"


def parse_batch_body(body: bytes, content_type: str) -> list[Any]:
    """A JSON array (or `{"traces": [...]}`) or NDJSON, one trace per line."""
    if not body.strip():
        raise BadRequest("Batch body is empty")
    if "ndjson" not in content_type and "jsonl" not in content_type:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, list):
            return document
        if isinstance(document, dict):
            traces = document.get("traces")
            return list(traces) if isinstance(traces, list) else [document]
    items: list[Any] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as error:
            raise BadRequest(
                f"Batch body must be a JSON array or NDJSON; line {number} is not valid JSON"
            ) from error
    return items


def parse_and_prepare(
    body: bytes,
    content_type: str,
    tenant_id: str,
    is_operator: bool,
    *,
    max_traces: int,
    max_steps: int,
) -> list[BatchItem]:
    with gc_paused():
        raw_items = parse_batch_body(body, content_type)
        return prepare_batch(
            raw_items, tenant_id, is_operator, max_traces=max_traces, max_steps=max_steps
        )


def prepare_batch(
    raw_items: list[Any],
    tenant_id: str,
    is_operator: bool,
    *,
    max_traces: int,
    max_steps: int,
) -> list[BatchItem]:
    """Validate, hash and redact every item (pure; run in a worker thread for big batches)."""
    with gc_paused():
        return _prepare_batch(raw_items, tenant_id, is_operator, max_traces, max_steps)


def _prepare_batch(
    raw_items: list[Any], tenant_id: str, is_operator: bool, max_traces: int, max_steps: int
) -> list[BatchItem]:
    if len(raw_items) > max_traces:
        raise PayloadTooLarge(f"Batch exceeds {max_traces:,} traces")
    total_steps = sum(
        len(trace.get("steps") or []) if isinstance(trace, dict) else 0
        for trace in (unwrap_quiet(item) for item in raw_items)
    )
    if total_steps > max_steps:
        raise PayloadTooLarge(f"Batch exceeds {max_steps:,} steps")
    now = datetime.now(UTC)
    items: list[BatchItem] = []
    seen: set[str] = set()
    for index, body in enumerate(raw_items):
        item = BatchItem(index)
        try:
            raw, _ = unwrap(body)
            if isinstance(raw, dict) and raw.get("tenant_id") not in (None, tenant_id):
                if not is_operator:
                    raise TraceInputError("Cannot access other tenant's data")
            item.trace = normalize_trace(raw, tenant_id, now, source="batch")
            if item.trace.trace_id in seen:
                item.status, item.error = "duplicate", "Trace id repeated within the batch"
                item.trace = None
            else:
                seen.add(item.trace.trace_id)
                item.status = "pending"
        except TraceInputError as error:
            item.error = error.detail
        items.append(item)
    return items


def unwrap_quiet(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("trace"), dict):
        return body["trace"]
    return body


async def store_batch(
    session: AsyncSession, context: IngestContext, items: list[BatchItem]
) -> dict[str, Any]:
    traces = [item.trace for item in items if item.trace is not None]
    await prepare_partitions(context, (s for t in traces for s in t.steps))
    inserted = await write_new_traces(session, traces)
    results = []
    for item in items:
        result: dict[str, Any] = {"index": item.index}
        if item.trace is not None:
            trace = item.trace
            item.status = "stored" if trace.trace_id in inserted else "duplicate"
            result.update(
                trace_id=trace.trace_id,
                root_hash=trace.root_hash,
                hash_verified=trace.hash_verified,
                steps=len(trace.steps),
            )
            if item.status == "duplicate":
                result["error"] = f"Trace {trace.trace_id} already exists"
        else:
            result["error"] = item.error
        result["status"] = item.status
        results.append(result)
    counts = {
        name: sum(1 for r in results if r["status"] == name)
        for name in ("stored", "duplicate", "rejected")
    }
    return {
        "stored": counts["stored"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "steps_stored": sum(r.get("steps", 0) for r in results if r["status"] == "stored"),
        "results": results,
    }
