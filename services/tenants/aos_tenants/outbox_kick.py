"""Deliver audit entries promptly: wake the outbox relay once the transaction has committed."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import on_commit


def kick_outbox_after_commit(request: Request, session: AsyncSession) -> None:
    async def kick() -> None:
        relay = getattr(request.app.state, "outbox_relay", None)
        if relay is not None:
            relay.kick()

    on_commit(session, kick)
