"""The audit outbox client: how every service reports a governance decision to the audit ledger.

The entry is written to the service's own outbox in the same transaction as the change it
describes; the relay delivers it to audit-ledger, which de-duplicates on the entry id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from aos_common.auth import Principal
from aos_common.db import on_commit
from aos_common.ids import new_id
from aos_common.outbox import enqueue
from aos_common.state import service_state

AUDIT_DESTINATION = "audit-ledger"
AUDIT_PATH = "/internal/v1/audit/entries"


def actor_of(principal: Principal | None) -> tuple[str, str]:
    """(actor_type, actor_id): people are HUMAN, API keys AGENT, services and no principal SYSTEM.

    The same mapping the ledger applies to a principal type it is sent (aos_audit_ledger.ledger.schemas).
    """
    if principal is None:
        return "SYSTEM", "system"
    if principal.principal_type in ("user", "operator"):
        return "HUMAN", principal.principal_id
    if principal.principal_type == "service":
        return "SYSTEM", principal.principal_id
    return "AGENT", principal.principal_id


async def enqueue_audit_entry(
    session: AsyncSession,
    outbox: Table,
    *,
    tenant_id: str,
    event_type: str,
    entity_type: str,
    entity_id: str,
    actor: Principal | None,
    action_reason: str | None = None,
    before_state: dict[str, Any] | None = None,
    after_state: dict[str, Any] | None = None,
    entry_id: str | None = None,
) -> str:
    """Queue one audit entry; its `al_` id is the ledger's de-duplication key. Returns the id."""
    entry_id = entry_id or new_id("al_")
    actor_type, actor_id = actor_of(actor)
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
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action_reason": action_reason,
            "before_state": before_state,
            "after_state": after_state,
        },
    )
    return entry_id


def kick_outbox_after_commit(app: Starlette, session: AsyncSession) -> None:
    """Ask the relay to deliver right after this transaction commits instead of at its next tick."""

    async def kick() -> None:
        relay = service_state(app).outbox_relay
        if relay is not None:
            relay.kick()

    on_commit(session, kick)
