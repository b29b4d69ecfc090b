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
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from aos_common.db import asyncpg_url, create_sessionmaker
from aos_cost_intel.reservations.batcher import ReserveBatcher
from aos_cost_intel.reservations.closing import CloseBatcher
from aos_cost_intel.settings import CostIntelSettings
from aos_cost_intel.state import cost_intel_state


def plain_dsn(url: str) -> str:
    """The database URL as asyncpg takes it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _reset(connection: asyncpg.Connection) -> None:
    """What a connection of this pool needs before its next use: nothing, unless a statement was
    cut short inside a transaction. Reservations leave no session state behind (no SET, LISTEN,
    advisory lock or cursor), so asyncpg's default reset (`RESET ALL` and friends) would be one
    more round trip per batch for nothing."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def _batch_engine(settings: CostIntelSettings) -> AsyncEngine:
    """The engine settle and release batches run on. Unlike the request engine it does not
    ping on checkout (a BEGIN, a query and a ROLLBACK: three round trips per batch); a
    connection found dead fails its batch, SQLAlchemy then drops the pool's connections, and
    the batch is retried one settle at a time on fresh ones (reservations/closing.py).

    No overflow: a batch that finds every connection busy waits for one. SQLAlchemy closes an
    overflow connection when it is returned, so with overflow, settles on many tenants at once
    (a batch each) opened and closed connections all the time, and each new one paid
    PostgreSQL's backend start, asyncpg's type introspection and plpgsql's first compile of the
    functions, tens of ms of PostgreSQL CPU (bench/reservations.py d: 74 connections opened for
    20 pooled). With two cores, more transactions at once than the pool holds would not settle
    faster anyway."""
    # Looked up on the module, like aos_common.db's engine, so that tracing sees it too.
    return sqlalchemy_asyncio.create_async_engine(
        asyncpg_url(settings.database_url),
        hide_parameters=True,
        isolation_level="AUTOCOMMIT",  # each batch begins its own transaction (closing.py)
        pool_size=settings.reservation_pool_size,
        max_overflow=0,
        connect_args={
            "server_settings": {
                "application_name": f"{settings.service_name}-settles",
                # Every statement of a batch finds its rows by key, whatever its arrays' length;
                # custom plans (the default for these) planned `lock_many` on every call.
                "plan_cache_mode": "force_generic_plan",
            }
        },
    )


@asynccontextmanager
async def reservation_pool(app: FastAPI) -> AsyncIterator[None]:
    state = cost_intel_state(app)
    settings = state.settings
    pool = await asyncpg.create_pool(
        plain_dsn(settings.database_url),
        min_size=1,
        max_size=settings.reservation_pool_size,
        server_settings={"application_name": f"{settings.service_name}-reservations"},
        reset=_reset,
    )
    engine = _batch_engine(settings)
    state.reservation_pool = pool
    state.reservation_batcher = ReserveBatcher(pool)
    state.close_batcher = CloseBatcher(create_sessionmaker(engine), state.prices)
    try:
        yield
    finally:
        await state.close_batcher.drain()
        await state.reservation_batcher.drain()
        await pool.close()
        await engine.dispose()
