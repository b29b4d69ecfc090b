"""The expiry sweep: every instance releases held reservations past their expiry every
`AOS_RESERVATION_SWEEP_SECONDS` (rows another instance is releasing are skipped, never waited on)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aos_common.db import session_scope
from aos_common.periodic import PeriodicTask
from aos_cost_intel.reservations.service import expire_due

logger = logging.getLogger("aos.cost_intel.reservations")


async def sweep_expired(app: FastAPI) -> list[str]:
    """One pass; returns the ids released. The audit entries go out through the outbox."""
    released: list[str] = []
    async for session in session_scope(app.state.sessionmaker):
        released = await expire_due(session)
    relay = getattr(app.state, "outbox_relay", None)
    if relay is not None and released:
        relay.kick()
    return released


@asynccontextmanager
async def expiry_sweeper(app: FastAPI) -> AsyncIterator[None]:
    interval = app.state.settings.reservation_sweep_seconds
    sweeper = PeriodicTask(
        "reservation-expiry",
        interval,
        lambda: sweep_expired(app),
        logger=logger,
        first_tick_at_start=True,
    )
    if interval > 0:
        sweeper.start()
    try:
        yield
    finally:
        await sweeper.stop()
