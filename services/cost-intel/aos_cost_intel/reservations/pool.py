"""The connections reservations are authorized on: a small asyncpg pool of their own.

`reserve_holds` runs outside any transaction so that budget locks end with the statement; a
request may already hold a connection of the request pool (the Idempotency-Key claim, the feature
tag lookup), and taking a second one from the same pool can starve it under load (every request
holding one and waiting for another). A pool of its own, whose connections are held for one
statement each, always makes progress. The reservations themselves go through the worker's
batcher (reservations/batcher.py), which sends them on this pool; settles and releases go through
theirs (reservations/closing.py), on the service's sessions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from aos_cost_intel.reservations.batcher import ReserveBatcher
from aos_cost_intel.reservations.closing import CloseBatcher


def plain_dsn(url: str) -> str:
    """The database URL as asyncpg takes it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def reservation_pool(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    pool = await asyncpg.create_pool(
        plain_dsn(settings.database_url),
        min_size=1,
        max_size=settings.reservation_pool_size,
        server_settings={"application_name": f"{settings.service_name}-reservations"},
    )
    app.state.reservation_pool = pool
    app.state.reservation_batcher = ReserveBatcher(pool)
    app.state.close_batcher = CloseBatcher(app.state.sessionmaker, app.state.prices)
    try:
        yield
    finally:
        await app.state.close_batcher.drain()
        await app.state.reservation_batcher.drain()
        await pool.close()
