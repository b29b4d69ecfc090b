"""The connections reservations are authorized on: a small asyncpg pool of their own.

`reserve_hold` runs outside any transaction so that budget locks end with the statement; a
request may already hold a connection of the request pool (the Idempotency-Key claim, the feature
tag lookup), and taking a second one from the same pool can starve it under load (every request
holding one and waiting for another). A pool of its own, whose connections are held for one
statement each, always makes progress.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from sqlalchemy.engine import make_url


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
    try:
        yield
    finally:
        await pool.close()
