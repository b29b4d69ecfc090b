"""The expiry sweep: every instance releases held reservations past their expiry every
`AOS_RESERVATION_SWEEP_SECONDS` (rows another instance is releasing are skipped, never waited on)."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from aos_common.db import session_scope
from aos_common.periodic import ticking
from aos_cost_intel.reservations.service import expire_due
from aos_cost_intel.state import cost_intel_state

logger = logging.getLogger("aos.cost_intel.reservations")


async def sweep_expired(app: FastAPI) -> list[str]:
    """One pass; returns the ids released. The audit entries go out through the outbox."""
    released: list[str] = []
    state = cost_intel_state(app)
    async for session in session_scope(state.sessionmaker):
        released = await expire_due(session)
    relay = state.outbox_relay
    if relay is not None and released:
        relay.kick()
    return released


def expiry_sweeper(app: FastAPI) -> AbstractAsyncContextManager[None]:
    interval = cost_intel_state(app).settings.reservation_sweep_seconds
    return ticking("reservation-expiry", interval, lambda: sweep_expired(app), logger=logger)
