"""Audit entries for key lifecycle events, written to the outbox in the request's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.auth import Principal
from aos_common.outbox import enqueue
from aos_tenants.keys import new_id
from aos_tenants.models import outbox

AUDIT_DESTINATION = "audit-ledger"
AUDIT_PATH = "/internal/v1/audit/entries"


async def record_audit(
    session: AsyncSession,
    *,
    tenant_id: str,
    event_type: str,
    entity_type: str,
    entity_id: str,
    actor: Principal | None,
    action_reason: str | None,
    before_state: dict[str, Any] | None,
    after_state: dict[str, Any] | None,
) -> str:
    """Queue one audit entry (`al_` id = the dedup key at the ledger); returns its id."""
    entry_id = new_id("al_")
    await enqueue(
        session,
        outbox,
        destination=AUDIT_DESTINATION,
        path=AUDIT_PATH,
        message_id=entry_id,
        payload={
            "tenant_id": tenant_id,
            "event_type": event_type,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "actor_type": actor.principal_type if actor else "system",
            "actor_id": actor.principal_id if actor else "system",
            "action_reason": action_reason,
            "before_state": before_state,
            "after_state": after_state,
        },
    )
    return entry_id
