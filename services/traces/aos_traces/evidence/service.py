"""Evidence recording and the integrity report of a trace.

`trace` is observed because the trace is stored and `trace_steps` once it has steps; the other
classes are observed when evidence of that class is recorded. A capture failure counts as
resolved once evidence of its class is recorded after it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_traces.domain.integrity import TRANSIENT_FAILURES, CaptureFailure, grade_integrity
from aos_traces.evidence import repository
from aos_traces.traces.service import not_found, resolve_trace_id


async def record(
    session: AsyncSession,
    tenant_id: str,
    key: str,
    evidence_class: str,
    failure_type: str | None,
    details: Any,
    actor: str,
) -> dict[str, Any]:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    stored = await repository.insert_evidence(
        session,
        tenant_id=tenant_id,
        trace_id=trace_id,
        evidence_class=evidence_class,
        failure_type=failure_type,
        details=details,
        recorded_by=actor,
    )
    return {
        "evidence_id": stored["evidence_id"],
        "trace_id": trace_id,
        "evidence_class": evidence_class,
        "kind": "evidence" if failure_type is None else "capture_failure",
        "failure_type": failure_type,
        "transient": None if failure_type is None else failure_type in TRANSIENT_FAILURES,
        "created_at": stored["created_at"],
    }


async def integrity(session: AsyncSession, tenant_id: str, key: str) -> dict[str, Any]:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    state = await repository.trace_state(session, tenant_id, trace_id)
    if state is None:
        raise not_found(key)
    observed = {"trace"}
    if state["total_steps"] > 0:
        observed.add("trace_steps")
    rows = await repository.list_evidence(session, tenant_id, trace_id)
    failures: list[CaptureFailure] = []
    for position, row in enumerate(rows):
        if row["failure_type"] is None:
            observed.add(row["evidence_class"])
            continue
        resolved = any(
            later["failure_type"] is None and later["evidence_class"] == row["evidence_class"]
            for later in rows[position + 1 :]
        )
        failures.append(
            CaptureFailure(
                row["evidence_class"],
                row["failure_type"],
                resolved,
                row["details"],
                row["created_at"],
            )
        )
    report = grade_integrity(observed, failures, sealed=state["completed_at"] is not None)
    return {"trace_id": trace_id, **report.as_dict()}
