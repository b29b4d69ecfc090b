"""Replay mismatches: report (with notification), list, resolve, bulk report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.errors import NotFound
from aos_traces.mismatches import notify as notifications
from aos_traces.mismatches import repository
from aos_traces.mismatches.schemas import MismatchCreate
from aos_traces.settings import TracesSettings
from aos_traces.traces.service import resolve_trace_id

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
MISMATCH_NOT_FOUND = "Mismatch not found"


def _issue_body(trace_id: str, report: MismatchCreate, actor: str, tenant_id: str) -> str:
    return "\n".join(
        [
            "## Replay Mismatch Detected",
            "",
            f"**Trace ID:** `{trace_id}`",
            f"**Step Index:** {report.step_index}",
            f"**Reason:** {report.reason}",
            f"**Reported By:** {actor}",
            f"**Tenant:** {tenant_id}",
            "",
            f"- Expected Hash: `{report.expected_hash or 'N/A'}`",
            f"- Actual Hash: `{report.actual_hash or 'N/A'}`",
            "",
            "```json",
            orjson.dumps(report.details, option=orjson.OPT_INDENT_2).decode(),
            "```",
        ]
    )


async def report(
    session: AsyncSession,
    settings: TracesSettings,
    tenant_id: str,
    key: str,
    body: MismatchCreate,
    actor: str,
) -> dict[str, Any]:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    mismatch_id = await repository.insert_mismatch(
        session,
        tenant_id=tenant_id,
        trace_id=trace_id,
        step_index=body.step_index,
        reason=body.reason,
        expected_hash=body.expected_hash,
        actual_hash=body.actual_hash,
        details=body.details,
        reported_by=actor,
    )
    sent = await notifications.notify(
        settings,
        title=f"[Replay Mismatch] trace:{trace_id} step:{body.step_index}",
        body=_issue_body(trace_id, body, actor, tenant_id),
        labels=["replay-mismatch", "aos", "automated"],
        payload={
            "event": "replay_mismatch",
            "mismatch_id": str(mismatch_id),
            "tenant_id": tenant_id,
            "trace_id": trace_id,
            "step_index": body.step_index,
            "reason": body.reason,
            "expected_hash": body.expected_hash,
            "actual_hash": body.actual_hash,
        },
    )
    if sent.channel != "none":
        await repository.mark_notified(session, tenant_id, [mismatch_id], sent.issue_url)
    result: dict[str, Any] = {
        "mismatch_id": str(mismatch_id),
        "trace_id": trace_id,
        "status": "recorded",
        "notified": sent.channel,
    }
    if sent.issue_url is not None:
        result["issue_url"] = sent.issue_url
    return result


async def list_for_trace(session: AsyncSession, tenant_id: str, key: str) -> dict[str, Any]:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    items = await repository.list_for_trace(session, tenant_id, trace_id)
    return {
        "trace_id": trace_id,
        "mismatches": [item.model_dump(mode="json", exclude={"trace_id"}) for item in items],
        "total": len(items),
    }


async def list_recent(
    session: AsyncSession, tenant_id: str, window: str, status: str | None, limit: int
) -> dict[str, Any]:
    since = datetime.now(UTC) - WINDOWS[window]
    resolved = None if status is None else status == "resolved"
    items, total, summary = await repository.list_recent(session, tenant_id, since, resolved, limit)
    return {
        "mismatches": [item.model_dump(mode="json") for item in items],
        "summary": summary,
        "window": window,
        "total": total,
    }


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def resolve(
    session: AsyncSession,
    settings: TracesSettings,
    tenant_id: str,
    key: str,
    mismatch_id: str,
    actor: str,
    note: str | None,
) -> dict[str, Any]:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    parsed = _uuid(mismatch_id)
    outcome = (
        False
        if parsed is None
        else await repository.resolve(session, tenant_id, trace_id, parsed, actor, note)
    )
    if outcome is False:
        raise NotFound(MISMATCH_NOT_FOUND)
    if isinstance(outcome, str) and note:
        await notifications.comment_on_issue(settings, outcome, f"Resolved by {actor}\n\n{note}")
    return {"status": "resolved", "mismatch_id": str(parsed), "resolved_by": actor}


async def bulk_report(
    session: AsyncSession,
    settings: TracesSettings,
    tenant_id: str,
    raw_ids: list[str],
    github_issue: bool,
    actor: str,
) -> dict[str, Any]:
    ids = [
        parsed
        for value in raw_ids
        for part in value.split(",")
        if (parsed := _uuid(part.strip())) is not None
    ]
    items = await repository.fetch_many(session, tenant_id, ids) if ids else []
    if not items:
        raise NotFound("No mismatches found")
    by_trace: dict[str, list[Any]] = {}
    for item in items:
        by_trace.setdefault(item.trace_id, []).append(item)
    issue_url = None
    if github_issue:
        lines = [
            "## Bulk Mismatch Report",
            "",
            f"**Total Mismatches:** {len(items)}",
            f"**Traces Affected:** {len(by_trace)}",
            f"**Reported By:** {actor}",
            "",
        ]
        for trace_id, mismatches in by_trace.items():
            lines += [
                f"### Trace `{trace_id}`",
                "| Step | Reason | Expected | Actual |",
                "|------|--------|----------|--------|",
            ]
            for m in mismatches:
                expected = (m.expected_hash or "N/A")[:8]
                actual = (m.actual_hash or "N/A")[:8]
                lines.append(f"| {m.step_index} | {m.reason} | `{expected}` | `{actual}` |")
            lines.append("")
        sent = await notifications.notify(
            settings,
            title=f"[Replay Mismatches] {len(items)} mismatches across {len(by_trace)} trace(s)",
            body="\n".join(lines),
            labels=["replay-mismatch", "aos", "bulk-report", "automated"],
            payload={
                "event": "replay_mismatch_bulk",
                "tenant_id": tenant_id,
                "mismatch_ids": [str(item.mismatch_id) for item in items],
            },
        )
        issue_url = sent.issue_url
        if sent.channel != "none":
            await repository.mark_notified(
                session, tenant_id, [item.mismatch_id for item in items], issue_url
            )
    return {
        "linked_count": len(items),
        "traces_affected": len(by_trace),
        "issue_url": issue_url,
        "mismatch_ids": [str(item.mismatch_id) for item in items],
    }
