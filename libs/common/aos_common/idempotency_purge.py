"""The purge of idempotency keys past their 24 h lifetime (aos_common.idempotency).

A key's row is only taken over when a request reuses the key after its lifetime; without a purge
the table of a busy service grows by every key ever sent. Every service with the table runs one
`key_purge` in the background (create_service_app starts it), deleting expired rows in bounded
batches through the `created_at` index.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_common.idempotency import expired_keys
from aos_common.periodic import PeriodicTask

logger = logging.getLogger("aos.idempotency")

PURGE_INTERVAL_SECONDS = 600.0
PURGE_BATCH_ROWS = 1000
PURGE_MAX_BATCHES = 100


async def purge_expired_keys(
    sessionmaker: async_sessionmaker[AsyncSession],
    table: Table,
    *,
    batch_rows: int = PURGE_BATCH_ROWS,
    max_batches: int = PURGE_MAX_BATCHES,
) -> int:
    """Delete keys past their lifetime, `batch_rows` per transaction, at most `max_batches`
    transactions per call; returns how many went.

    Short transactions keep row locks brief for requests taking a key over; rows locked by such a
    request are skipped (SKIP LOCKED, so replicas purging at once do not queue either), and a row
    taken over meanwhile is no longer expired when locked, so it stays. A backlog larger than one
    call's bound is finished by the next calls.
    """
    victims = (
        select(table.c.tenant_id, table.c.key)
        .where(expired_keys(table))
        .order_by(table.c.created_at)
        .limit(batch_rows)
        .with_for_update(skip_locked=True)
    )
    statement = delete(table).where(tuple_(table.c.tenant_id, table.c.key).in_(victims))
    purged = 0
    for _ in range(max_batches):
        async with sessionmaker() as session, session.begin():
            result = cast(CursorResult[Any], await session.execute(statement))
        deleted = result.rowcount
        purged += deleted
        if deleted < batch_rows:
            break
    return purged


def key_purge(
    sessionmaker: async_sessionmaker[AsyncSession],
    table: Table,
    *,
    interval_seconds: float = PURGE_INTERVAL_SECONDS,
) -> PeriodicTask:
    """The background purge of a service's idempotency keys (started by create_service_app)."""

    async def purge() -> None:
        purged = await purge_expired_keys(sessionmaker, table)
        if purged:
            logger.info("purged %d expired idempotency keys", purged)

    return PeriodicTask("idempotency-key-purge", interval_seconds, purge, logger=logger)
