"""Transactional outbox: cross-service writes that must not be lost.

A message is inserted in the same transaction as the change it reports; a background relay
delivers it with retries and backoff; the receiver de-duplicates on the message id, so a
redelivery after a crash never writes twice. A service whose peer is down keeps working.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_common.http_client import PeerUnavailable, ServiceClient

logger = logging.getLogger("aos.outbox")
MAX_BACKOFF = timedelta(minutes=5)
# Answers that may go away by themselves; any other 3xx/4xx is the receiver refusing the message.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
REFUSED = "refused:"


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table inside a service's own schema (each service has one)."""
    return Table(
        "outbox",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("destination", String(64), nullable=False),
        Column("path", String(255), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column(
            "next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("delivered_at", DateTime(timezone=True), nullable=True),
        Column("last_error", Text, nullable=True),
    )


async def enqueue(
    session: AsyncSession,
    table: Table,
    *,
    destination: str,
    path: str,
    payload: dict[str, Any],
    message_id: str | None = None,
) -> str:
    """Add a message to the current transaction; the payload gets `id` = the message id."""
    message_id = message_id or str(uuid.uuid4())
    body = {**payload, "id": message_id}
    await session.execute(
        insert(table)
        .values(id=message_id, destination=destination, path=path, payload=body)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return message_id


class OutboxRelay:
    """Delivers pending messages; safe with several instances (rows are claimed SKIP LOCKED)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        table: Table,
        client: ServiceClient,
        interval_seconds: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._table = table
        self._client = client
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """Deliver soon rather than at the next tick (call after committing a message)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                delivered = await self.deliver_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox relay pass failed")
                delivered = 0
            if delivered >= self._batch_size:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def deliver_pending(self) -> int:
        """One pass: claim due messages, deliver each, record the outcome. Returns deliveries."""
        table = self._table
        delivered = 0
        async with self._sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    select(
                        table.c.id,
                        table.c.destination,
                        table.c.path,
                        table.c.payload,
                        table.c.attempts,
                    )
                    .where(table.c.delivered_at.is_(None), table.c.next_attempt_at <= func.now())
                    .order_by(table.c.created_at)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                error = await self._deliver(row.destination, row.path, row.payload)
                if error is None:
                    delivered += 1
                    await session.execute(
                        update(table)
                        .where(table.c.id == row.id)
                        .values(delivered_at=func.now(), attempts=row.attempts + 1, last_error=None)
                    )
                else:
                    delay = min(timedelta(seconds=2 ** min(row.attempts, 16)), MAX_BACKOFF)
                    if error.startswith(REFUSED):
                        # Kept, not dropped: a fixed receiver still gets it, at the slowest pace.
                        logger.error(
                            "outbox message %s refused by %s: %s", row.id, row.destination, error
                        )
                        delay = MAX_BACKOFF
                    await session.execute(
                        update(table)
                        .where(table.c.id == row.id)
                        .values(
                            attempts=row.attempts + 1,
                            last_error=error[:1000],
                            next_attempt_at=datetime.now(UTC) + delay,
                        )
                    )
        return delivered

    async def _deliver(self, destination: str, path: str, payload: dict[str, Any]) -> str | None:
        if not self._client.knows(destination):
            return f"{REFUSED} no address is configured for {destination!r}"
        try:
            response = await self._client.request(
                destination,
                "POST",
                path,
                json=payload,
                tenant_id=payload.get("tenant_id"),
                retry=True,
            )
        except PeerUnavailable as error:
            return str(error)
        if response.status_code in TRANSIENT_STATUSES or response.status_code >= 500:
            return f"HTTP {response.status_code}: {response.text[:500]}"
        if response.status_code >= 300:
            return f"{REFUSED} HTTP {response.status_code}: {response.text[:500]}"
        return None

    async def pending_count(self) -> int:
        table = self._table
        async with self._sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(table).where(table.c.delivered_at.is_(None))
            )
        return int(count or 0)
