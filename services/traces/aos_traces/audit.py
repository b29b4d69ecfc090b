"""Audit events of the traces service, written through its transactional outbox."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import on_commit
from aos_common.ids import new_id
from aos_common.outbox import enqueue
from aos_traces.models import outbox

AUDIT_PATH = "/internal/v1/audit/entries"


def kick_relay_after_commit(session: AsyncSession, app: FastAPI) -> None:
    async def kick() -> None:
        relay = getattr(app.state, "outbox_relay", None)
        if relay is not None:
            relay.kick()

    on_commit(session, kick)


async def audit_trace_deleted(
    session: AsyncSession,
    app: FastAPI,
    *,
    tenant_id: str,
    entity_id: str,
    actor_id: str,
    reason: str,
    before_state: dict[str, Any] | None,
    after_state: dict[str, Any] | None = None,
) -> None:
    entry_id = new_id("al_")
    await enqueue(
        session,
        outbox,
        destination="audit-ledger",
        path=AUDIT_PATH,
        message_id=entry_id,
        payload={
            "tenant_id": tenant_id,
            "event_type": "TraceDeleted",
            "entity_type": "TRACE",
            "entity_id": entity_id,
            "actor_type": "HUMAN",
            "actor_id": actor_id,
            "action_reason": reason,
            "before_state": before_state,
            "after_state": after_state,
        },
    )
    kick_relay_after_commit(session, app)
