"""OTLP ingestion: spans grouped by trace id become AOS traces; gen_ai spans become steps; each
LLM step enqueues one cost record for cost-intel in the traces outbox.

A trace is completed when its root span arrives; until then later exports append steps (a span
already stored is skipped, so a re-sent export stores nothing twice). Spans for a completed
trace are rejected and reported in the OTLP partial-success answer. The cost record's
request_id is `{trace_id}:{span_id}` and its outbox message id derives from it, so a span
delivered twice costs once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import driver_connection
from aos_common.hashing import compute_root_hash
from aos_traces.domain.hashing import chain_root
from aos_traces.domain.otlp import (
    STATUS_ERROR,
    LlmUsage,
    Span,
    SpanGroup,
    clean_text,
    cost_record,
    span_to_step,
    usage_of,
)
from aos_traces.domain.steps import Step, normalize_step
from aos_traces.domain.trace import Trace, normalize_trace
from aos_traces.ingest import repository as ingest_repository
from aos_traces.ingest.service import IngestContext, prepare_partitions, write_new_traces
from aos_traces.otlp import repository

COST_PATH = "/internal/v1/cost/records"


@dataclass
class IngestResult:
    accepted_spans: int = 0
    rejected_spans: int = 0
    traces_created: int = 0
    steps_stored: int = 0
    cost_records: int = 0
    errors: list[str] = field(default_factory=list)


def aos_trace_id(otlp_trace_id: str) -> str:
    return f"trace_{otlp_trace_id}"


def _attribute(group: SpanGroup, *names: str) -> str | None:
    """The first non-empty string attribute among `names` (spans first, then resources), made
    fit for a 128-character identifier column."""
    for source in ("attributes", "resource"):
        for span in group.spans:
            for name in names:
                value = getattr(span, source).get(name)
                if isinstance(value, str) and value:
                    return clean_text(value, 128)
    return None


def _iso(nanoseconds: int) -> str:
    return datetime.fromtimestamp(nanoseconds / 1e9, UTC).isoformat()


def _completion(group: SpanGroup, steps: list[Step]) -> tuple[str | None, str]:
    root = group.root
    if root is None:
        return None, "running"
    failed = root.status_code == STATUS_ERROR or any(step.status == "failure" for step in steps)
    return _iso(root.end_ns), "failed" if failed else "completed"


def _steps_for(
    spans: list[Span], trace_id: str, first_index: int, started_at: datetime
) -> list[tuple[Step, Span, LlmUsage]]:
    mapped = []
    for offset, span in enumerate(spans):
        key = f"{trace_id}:{span.span_id}"
        usage = usage_of(span)
        raw = span_to_step(span, first_index + offset, key, usage)
        step = normalize_step(raw, offset, started_at)
        step.span_id = span.span_id
        mapped.append((step, span, usage))
    return mapped


def _new_trace(
    group: SpanGroup, tenant_id: str, now: datetime
) -> tuple[Trace, list[tuple[Step, Span, LlmUsage]]]:
    trace_id = aos_trace_id(group.otlp_trace_id)
    started_at = datetime.fromtimestamp(min(s.start_ns for s in group.spans) / 1e9, UTC)
    mapped = _steps_for(group.gen_ai_spans, trace_id, 0, started_at)
    completed_at, status = _completion(group, [step for step, _, _ in mapped])
    trace = normalize_trace(
        {
            "trace_id": trace_id,
            "run_id": _attribute(group, "aos.run_id") or group.otlp_trace_id,
            "agent_id": _attribute(group, "gen_ai.agent.name", "gen_ai.agent.id", "service.name"),
            "started_at": started_at.isoformat(),
            "completed_at": completed_at,
            "status": status,
            "metadata": {"source": "otlp", "otlp_trace_id": group.otlp_trace_id},
        },
        tenant_id,
        now,
        source="otlp",
    )
    trace.steps = [step for step, _, _ in mapped]
    trace.root_hash = chain_root(
        trace.seed, trace.frozen_timestamp, tenant_id, (s.step_hash for s in trace.steps)
    )
    return trace, mapped


def _cost_messages(
    tenant_id: str, run_id: str, mapped: list[tuple[Step, Span, LlmUsage]]
) -> list[tuple[str, str, str, dict[str, Any]]]:
    messages = []
    now = datetime.now(UTC)
    for step, span, usage in mapped:
        if not usage.is_llm_call:
            continue
        request_id = step.idempotency_key or ""
        payload = cost_record(
            span,
            usage,
            tenant_id=tenant_id,
            request_id=request_id,
            run_id=run_id,
            skill_id=step.skill_id,
            now=now,
        )
        message_id = hashlib.sha256(f"cost:{tenant_id}:{request_id}".encode()).hexdigest()
        messages.append((message_id, "cost-intel", COST_PATH, payload))
    return messages


@dataclass
class PreparedGroup:
    """A span group with the trace it becomes if its id is new (computed off the event loop)."""

    group: SpanGroup
    trace: Trace | None
    messages: list[tuple[str, str, str, dict[str, Any]]]


def prepare_groups(groups: list[SpanGroup], tenant_id: str) -> list[PreparedGroup]:
    """Pure: map every group as if new; the async part decides which ones are appends."""
    now = datetime.now(UTC)
    prepared = []
    for group in groups:
        if not group.gen_ai_spans:
            prepared.append(PreparedGroup(group, None, []))
            continue
        trace, mapped = _new_trace(group, tenant_id, now)
        prepared.append(
            PreparedGroup(group, trace, _cost_messages(tenant_id, trace.run_id, mapped))
        )
    return prepared


async def ingest_groups(
    session: AsyncSession, context: IngestContext, prepared: list[PreparedGroup], tenant_id: str
) -> IngestResult:
    result = IngestResult()
    ids = [aos_trace_id(item.group.otlp_trace_id) for item in prepared]
    existing = await repository.lock_existing(session, tenant_id, ids) if ids else {}
    new_traces: list[Trace] = []
    messages: list[tuple[str, str, str, dict[str, Any]]] = []
    appends: list[tuple[SpanGroup, dict[str, Any]]] = []
    fresh_messages: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = {}
    for item in prepared:
        group = item.group
        trace_id = aos_trace_id(group.otlp_trace_id)
        if trace_id in existing:
            appends.append((group, existing[trace_id]))
            continue
        result.accepted_spans += len(group.spans)
        if item.trace is None:
            continue
        new_traces.append(item.trace)
        fresh_messages[item.trace.trace_id] = item.messages
    await prepare_partitions(context, (s for t in new_traces for s in t.steps))
    inserted = await write_new_traces(session, new_traces)
    result.traces_created = len(inserted)
    for trace_id in inserted:
        messages.extend(fresh_messages.get(trace_id, []))
    result.steps_stored = sum(len(t.steps) for t in new_traces if t.trace_id in inserted)
    # A trace created concurrently by another export (its insert won the race) is appended to.
    lost = [
        item.group
        for item in prepared
        if item.trace is not None
        and item.trace.trace_id not in inserted
        and item.trace.trace_id not in existing
    ]
    if lost:
        raced = await repository.lock_existing(
            session, tenant_id, [aos_trace_id(group.otlp_trace_id) for group in lost]
        )
        for group in lost:
            row = raced.get(aos_trace_id(group.otlp_trace_id))
            if row is not None:
                result.accepted_spans -= len(group.spans)
                appends.append((group, row))
    for group, row in appends:
        await _append(session, context, group, row, tenant_id, result, messages)
    connection = await driver_connection(session)
    await ingest_repository.insert_outbox_messages(connection, messages)
    result.cost_records = len(messages)
    return result


async def _append(
    session: AsyncSession,
    context: IngestContext,
    group: SpanGroup,
    row: dict[str, Any],
    tenant_id: str,
    result: IngestResult,
    messages: list[tuple[str, str, str, dict[str, Any]]],
) -> None:
    if row["completed_at"] is not None:
        result.rejected_spans += len(group.spans)
        result.errors.append(f"trace {row['trace_id']} is completed; its spans were rejected")
        return
    result.accepted_spans += len(group.spans)
    trace_id = row["trace_id"]
    stored = await repository.existing_steps(session, tenant_id, trace_id)
    known = {step["span_id"] for step in stored}
    fresh = [span for span in group.gen_ai_spans if span.span_id not in known]
    started_at = datetime.fromtimestamp(min(s.start_ns for s in group.spans) / 1e9, UTC)
    mapped = _steps_for(fresh, trace_id, len(stored), started_at)
    new_steps = [step for step, _, _ in mapped]
    await prepare_partitions(context, new_steps)
    connection = await driver_connection(session)
    await ingest_repository.copy_steps(
        connection, [ingest_repository.step_record(tenant_id, trace_id, s) for s in new_steps]
    )
    await ingest_repository.insert_idempotency_records(
        connection, tenant_id, [(trace_id, s) for s in new_steps]
    )
    hashed = [*stored, *(step.hash_fields() for step in new_steps)]
    root_hash = compute_root_hash(row["seed"], row["frozen_timestamp"], tenant_id, hashed)
    completed_raw, status = _completion(group, new_steps)
    if completed_raw is not None and any(s["status"] == "failure" for s in stored):
        status = "failed"
    await repository.refresh_trace(
        session,
        tenant_id=tenant_id,
        trace_id=trace_id,
        root_hash=root_hash,
        completed_at=None if completed_raw is None else datetime.fromisoformat(completed_raw),
        status=status,
    )
    result.steps_stored += len(new_steps)
    messages.extend(_cost_messages(tenant_id, row["run_id"], mapped))
