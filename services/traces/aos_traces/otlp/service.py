"""OTLP ingestion: spans grouped by trace id become AOS traces; step spans (see
domain/otlp.py) become steps; each LLM step enqueues one cost record for cost-intel in the
traces outbox.

No span is refused for arriving late (docs/OTEL.md, "Late spans"). Every OTLP trace id becomes a
trace; its root span completes it, and its root hash becomes final `otlp_late_span_grace_seconds`
after the root arrived. Until then spans in any order give the same stored trace: steps are kept
in (start time, span id) order, renumbered when a span sorts before stored ones. After it, a late
span is appended and the trace is amended: the final hash is kept beside the new one and the
amendment recorded. A span already stored is skipped, so a re-sent export stores nothing twice.
The cost record's request_id is `{trace_id}:{span_id}` and its outbox message id derives from it,
so a span delivered twice (or in any order) costs once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import driver_connection
from aos_proofs.trace_hash import compute_root_hash
from aos_traces.domain.otlp import Span, SpanGroup, step_order
from aos_traces.ingest import repository as ingest_repository
from aos_traces.ingest.service import IngestContext, prepare_partitions, write_new_traces
from aos_traces.otlp import repository
from aos_traces.otlp.prepare import (
    MappedStep,
    OutboxMessage,
    PreparedGroup,
    aos_trace_id,
    completion,
    cost_messages,
    group_started_at,
    map_step,
)


@dataclass
class IngestResult:
    accepted_spans: int = 0
    rejected_spans: int = 0
    traces_created: int = 0
    steps_stored: int = 0
    cost_records: int = 0
    amended_traces: int = 0
    errors: list[str] = field(default_factory=list)


async def ingest_groups(
    session: AsyncSession,
    context: IngestContext,
    prepared: list[PreparedGroup],
    tenant_id: str,
    grace: timedelta,
) -> IngestResult:
    result = IngestResult()
    # Partitions first: creating one waits for transactions that read the steps table.
    await prepare_partitions(context, (s for item in prepared for s in item.trace.steps))
    ids = [aos_trace_id(item.group.otlp_trace_id) for item in prepared]
    existing = await repository.lock_existing(session, tenant_id, ids) if ids else {}
    fresh = [item for item in prepared if item.trace.trace_id not in existing]
    inserted = await write_new_traces(session, [item.trace for item in fresh])
    messages: list[OutboxMessage] = []
    for item in fresh:
        if item.trace.trace_id in inserted:
            result.accepted_spans += len(item.group.spans)
            result.traces_created += 1
            result.steps_stored += len(item.trace.steps)
            messages.extend(item.messages)
    # A trace created concurrently by another export (its insert won the race) is joined.
    lost = [item.group for item in fresh if item.trace.trace_id not in inserted]
    if lost:
        existing.update(
            await repository.lock_existing(
                session, tenant_id, [aos_trace_id(group.otlp_trace_id) for group in lost]
            )
        )
    for item in prepared:
        if item.trace.trace_id not in inserted:
            row = existing[item.trace.trace_id]
            await _join(session, item.group, row, tenant_id, grace, result, messages)
    connection = await driver_connection(session)
    await ingest_repository.insert_outbox_messages(connection, messages)
    result.cost_records = len(messages)
    return result


def _is_final(row: dict[str, Any]) -> bool:
    """The root hash is final once the trace completed and its grace period is over (a trace
    completed without one, as before late spans were accepted, is final at once)."""
    if row["completed_at"] is None:
        return False
    return row["hash_final_at"] is None or row["hash_final_at"] <= row["now"]


async def _join(
    session: AsyncSession,
    group: SpanGroup,
    row: dict[str, Any],
    tenant_id: str,
    grace: timedelta,
    result: IngestResult,
    messages: list[OutboxMessage],
) -> None:
    """Spans of an export joining a stored trace: never refused."""
    result.accepted_spans += len(group.spans)
    trace_id = row["trace_id"]
    stored = await repository.existing_steps(session, tenant_id, trace_id)
    known = {step["span_id"] for step in stored}
    spans = [span for span in group.step_spans if span.span_id not in known]
    final = _is_final(row)
    if final and not spans:
        return
    started_at = group_started_at(group)
    last = max(((s["timestamp"], s["span_id"] or "") for s in stored), default=None)
    if final or not spans or last is None or step_order(spans[0]) > last:
        mapped = [
            map_step(span, trace_id, len(stored) + offset, started_at)
            for offset, span in enumerate(spans)
        ]
        hashed = [*stored, *(step.hash_fields() for step, _, _ in mapped)]
        await _store_new_steps(session, tenant_id, trace_id, mapped)
    else:
        mapped, hashed = await _merge_in_order(
            session, tenant_id, trace_id, stored, spans, started_at
        )
    root_hash = compute_root_hash(row["seed"], row["frozen_timestamp"], tenant_id, hashed)
    completed_at, status = completion(
        group,
        [step for step, _, _ in mapped],
        completed=row["completed_at"] is not None,
        failed=row["status"] == "failed" or any(s["status"] == "failure" for s in stored),
    )
    await repository.refresh_trace(
        session,
        tenant_id=tenant_id,
        trace_id=trace_id,
        root_hash=root_hash,
        completed_at=completed_at,
        status=status,
        started_at=started_at,
        hash_final_at=None if completed_at is None else row["now"] + grace,
        amended=final,
    )
    if final:
        connection = await driver_connection(session)
        await repository.insert_amendment(
            connection,
            tenant_id=tenant_id,
            trace_id=trace_id,
            previous_root_hash=row["root_hash"],
            root_hash=root_hash,
            span_ids=[span.span_id for span in spans],
        )
        result.amended_traces += 1
    result.steps_stored += len(mapped)
    messages.extend(cost_messages(tenant_id, row["run_id"], mapped))


async def _store_new_steps(
    session: AsyncSession,
    tenant_id: str,
    trace_id: str,
    mapped: list[MappedStep],
) -> None:
    steps = [step for step, _, _ in mapped]
    connection = await driver_connection(session)
    await ingest_repository.copy_steps(
        connection, [ingest_repository.step_record(tenant_id, trace_id, s) for s in steps]
    )
    await ingest_repository.insert_idempotency_records(
        connection, tenant_id, [(trace_id, s) for s in steps]
    )


async def _merge_in_order(
    session: AsyncSession,
    tenant_id: str,
    trace_id: str,
    stored: list[dict[str, Any]],
    spans: list[Span],
    started_at: datetime,
) -> tuple[list[MappedStep], list[dict[str, Any]]]:
    """Spans sorting before stored steps of a trace whose hash is not final: every step takes
    its index in (timestamp, span id) order, so arrival order leaves no trace in the result.
    Returns the new steps and the hash fields of all steps in index order."""
    order = sorted(
        [((s["timestamp"], s["span_id"] or ""), s) for s in stored]
        + [(step_order(span), span) for span in spans],
        key=lambda pair: pair[0],
    )
    connection = await driver_connection(session)
    records = await repository.take_steps(connection, tenant_id, trace_id)
    index_column = ingest_repository.STEP_COLUMNS.index("step_index")
    copied: list[tuple[Any, ...]] = []
    mapped: list[MappedStep] = []
    hashed: list[dict[str, Any]] = []
    moved_keys: list[str] = []
    moved_indexes: list[int] = []
    for index, (_, item) in enumerate(order):
        if isinstance(item, Span):
            entry = map_step(item, trace_id, index, started_at)
            mapped.append(entry)
            hashed.append(entry[0].hash_fields())
            continue
        record = list(records[item["span_id"]])
        record[index_column] = index
        copied.append(tuple(record))
        hashed.append({**item, "step_index": index})
        if item["idempotency_key"] is not None:
            moved_keys.append(item["idempotency_key"])
            moved_indexes.append(index)
    await ingest_repository.copy_steps(connection, copied)
    await repository.renumber_idempotency_records(connection, tenant_id, moved_keys, moved_indexes)
    await _store_new_steps(session, tenant_id, trace_id, mapped)
    return mapped, hashed
