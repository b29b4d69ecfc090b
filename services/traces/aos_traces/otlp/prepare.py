"""Pure half of OTLP ingestion, run in a worker thread: span groups -> the trace each becomes if
its id is new, its steps, and the cost-record outbox messages of its LLM steps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aos_traces.domain import semconv
from aos_traces.domain.hashing import chain_root
from aos_traces.domain.otlp import (
    STATUS_ERROR,
    Span,
    SpanGroup,
    clean_text,
    cost_record,
    from_unix_nano,
    read,
    span_to_step,
)
from aos_traces.domain.steps import Step, normalize_step
from aos_traces.domain.trace import Trace, normalize_trace

COST_PATH = "/internal/v1/cost/records"
OutboxMessage = tuple[str, str, str, dict[str, Any]]
MappedStep = tuple[Step, Span, semconv.GenAiSpan]


def aos_trace_id(otlp_trace_id: str) -> str:
    return f"trace_{otlp_trace_id}"


def group_attribute(group: SpanGroup, *names: str) -> str | None:
    """The first non-empty string attribute among `names` (spans first, then resources), made
    fit for a 128-character identifier column."""
    for source in ("attributes", "resource"):
        for span in group.spans:
            for name in names:
                value = getattr(span, source).get(name)
                if isinstance(value, str) and value:
                    return clean_text(value, 128)
    return None


def group_started_at(group: SpanGroup) -> datetime:
    return from_unix_nano(min(span.start_ns for span in group.spans))


def completion(
    group: SpanGroup, steps: list[Step], *, completed: bool = False, failed: bool = False
) -> tuple[datetime | None, str]:
    """(completed_at from the root span if this group has it, status). `completed` / `failed`
    carry what the stored trace already knows, so a group without the root keeps them."""
    root = group.root
    if root is None and not completed:
        return None, "running"
    failed = (
        failed
        or (root is not None and root.status_code == STATUS_ERROR)
        or any(step.status == "failure" for step in steps)
    )
    ended = None if root is None else from_unix_nano(root.end_ns)
    return ended, "failed" if failed else "completed"


def map_step(span: Span, trace_id: str, step_index: int, started_at: datetime) -> MappedStep:
    key = f"{trace_id}:{span.span_id}"
    usage = read(span)
    step = normalize_step(span_to_step(span, step_index, key, usage), step_index, started_at)
    step.span_id = span.span_id
    return step, span, usage


def new_trace(
    group: SpanGroup, tenant_id: str, now: datetime, grace: timedelta
) -> tuple[Trace, list[MappedStep]]:
    trace_id = aos_trace_id(group.otlp_trace_id)
    started_at = group_started_at(group)
    mapped = [
        map_step(span, trace_id, index, started_at) for index, span in enumerate(group.step_spans)
    ]
    completed_at, status = completion(group, [step for step, _, _ in mapped])
    trace = normalize_trace(
        {
            "trace_id": trace_id,
            "run_id": group_attribute(group, "aos.run_id") or group.otlp_trace_id,
            "agent_id": group_attribute(group, *semconv.AGENT, "service.name"),
            "correlation_id": group_attribute(group, *semconv.CONVERSATION),
            "started_at": started_at.isoformat(),
            "completed_at": None if completed_at is None else completed_at.isoformat(),
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
    if completed_at is not None:
        trace.hash_final_at = now + grace
    return trace, mapped


def cost_messages(tenant_id: str, run_id: str, mapped: list[MappedStep]) -> list[OutboxMessage]:
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
    trace: Trace
    messages: list[OutboxMessage]


def prepare_groups(
    groups: list[SpanGroup], tenant_id: str, grace: timedelta
) -> list[PreparedGroup]:
    """Pure: map every group as if new; the async part decides which ones join a stored trace."""
    now = datetime.now(UTC)
    prepared = []
    for group in groups:
        trace, mapped = new_trace(group, tenant_id, now, grace)
        prepared.append(PreparedGroup(group, trace, cost_messages(tenant_id, trace.run_id, mapped)))
    return prepared
