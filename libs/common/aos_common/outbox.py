"""Transactional outbox: cross-service writes that must not be lost.

A message is inserted in the same transaction as the change it reports; a background relay
delivers it with retries and backoff; the receiver de-duplicates on the message id, so a
redelivery after a crash never writes twice. A service whose peer is down keeps working.

Messages whose route has a batch twin (aos_common.outbox_batch) travel up to
`MAX_BATCH_MESSAGES` per call, so delivery keeps pace with a producer writing thousands of
messages a second; the others go one call each. The relay's lag (pending messages and the age of
the oldest, per destination) is exported as Prometheus gauges, read at scrape time.

A relay runs its passes in lanes (three by default): lane 0 takes every message, the others only
messages of unordered routes (cost records), so while one pass waits for its receiver another
claims, delivers and records the next messages; a route whose order matters (audit entries) is
only ever in lane 0, one pass after another.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import (
    ARRAY,
    BindParameter,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import TypeEngine

from aos_common.http_client import PeerUnavailable, ServiceClient
from aos_common.metrics import Metrics
from aos_common.outbox_batch import BATCH_ROUTES, MAX_BATCH_MESSAGES, UNORDERED_ROUTES
from aos_common.periodic import STOP_TIMEOUT_SECONDS, stop_task

logger = logging.getLogger("aos.outbox")
MAX_BACKOFF = timedelta(minutes=5)
# Answers that may go away by themselves; any other 3xx/4xx is the receiver refusing the message.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
REFUSED = "refused:"
BATCH_TIMEOUT = 60.0
"""Seconds a batch call may take: a thousand records on a loaded receiver outlast the 5 s of a
single call, and a timed-out batch is sent again whole."""


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
        Index(
            "ix_outbox_pending", "next_attempt_at", postgresql_where=text("delivered_at IS NULL")
        ),
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


@dataclass(frozen=True)
class Pending:
    id: str
    destination: str
    path: str
    payload: str  # the stored JSON text: batches are assembled without parsing it
    attempts: int


Outcomes = dict[str, str | None]
"""Message id → None when delivered, else why not (prefixed REFUSED when the receiver declined)."""


class OutboxRelay:
    """Delivers pending messages; safe with several instances (rows are claimed SKIP LOCKED)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        table: Table,
        client: ServiceClient,
        interval_seconds: float = 1.0,
        batch_size: int = 4000,
        batch_routes: Mapping[tuple[str, str], str] = BATCH_ROUTES,
        metrics: Metrics | None = None,
        lanes: int = 3,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._table = table
        self._client = client
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._batch_routes = dict(batch_routes)
        self._wakes = [asyncio.Event() for _ in range(max(lanes, 1))]
        self._task: asyncio.Task[None] | None = None
        self._lag = RelayLag(metrics) if metrics is not None else None

    def kick(self) -> None:
        """Deliver soon rather than at the next tick (call after committing a message)."""
        for wake in self._wakes:
            wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Cancel the relay and wait for it, at most STOP_TIMEOUT_SECONDS (a pass stuck in a call
        that ignores cancellation must not hang the app's shutdown; its messages stay pending)."""
        if self._task is not None:
            task, self._task = self._task, None
            await stop_task(task, within=STOP_TIMEOUT_SECONDS, logger=logger)

    async def _run(self) -> None:
        await asyncio.gather(*(self._lane(number) for number in range(len(self._wakes))))

    async def _lane(self, number: int) -> None:
        """One pass after another. Lane 0 takes every message; the others take only messages of
        unordered routes, so their passes overlap lane 0's (one claims and records while another
        waits for its receiver) without reordering a route whose order matters. Only lane 0
        polls; the others wait for a kick, or for lane 0 to find a full batch (a backlog)."""
        wake = self._wakes[number]
        while True:
            claimed = 0
            try:
                claimed, _ = await self._pass(unordered_only=number > 0)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox relay pass failed")
            if claimed >= self._batch_size:
                for other in self._wakes[1:] if number == 0 else ():
                    other.set()
                continue
            try:
                await asyncio.wait_for(wake.wait(), timeout=self._interval if number == 0 else None)
            except TimeoutError:
                pass
            wake.clear()

    async def deliver_pending(self) -> int:
        """One pass: claim due messages, deliver them (in batches where the route has a batch
        twin), record each outcome. Returns how many were delivered."""
        _, delivered = await self._pass(unordered_only=False)
        return delivered

    async def _pass(self, *, unordered_only: bool) -> tuple[int, int]:
        """(claimed, delivered) of one pass; rows are claimed SKIP LOCKED, so passes running at
        the same time (lanes, other processes) never take the same message."""
        table = self._table
        query = (
            select(
                table.c.id,
                table.c.destination,
                table.c.path,
                cast(table.c.payload, Text),
                table.c.attempts,
            )
            .where(table.c.delivered_at.is_(None), table.c.next_attempt_at <= func.now())
            .order_by(table.c.next_attempt_at, table.c.created_at)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )
        if unordered_only:
            query = query.where(
                or_(
                    *(
                        and_(table.c.destination == destination, table.c.path == path)
                        for destination, path in sorted(UNORDERED_ROUTES)
                    )
                )
            )
        async with self._sessionmaker() as session, session.begin():
            rows = (await session.execute(query)).all()
            if not rows:
                return 0, 0
            pending = [Pending(*row) for row in rows]
            outcomes = await self._deliver_all(pending)
            await self._record(session, pending, outcomes)
        delivered = sum(1 for error in outcomes.values() if error is None)
        if self._lag is not None:
            self._lag.count(pending, outcomes)
        return len(pending), delivered

    async def _deliver_all(self, pending: Sequence[Pending]) -> Outcomes:
        """Every destination and route at once; within one, batches go one after another."""
        groups: dict[tuple[str, str], list[Pending]] = {}
        for message in pending:
            groups.setdefault((message.destination, message.path), []).append(message)
        parts = await asyncio.gather(
            *(self._deliver_group(dest, path, group) for (dest, path), group in groups.items())
        )
        outcomes: Outcomes = {}
        for part in parts:
            outcomes.update(part)
        return outcomes

    async def _deliver_group(
        self, destination: str, path: str, messages: list[Pending]
    ) -> Outcomes:
        outcomes: Outcomes = {}
        if not self._client.knows(destination):
            error = f"{REFUSED} no address is configured for {destination!r}"
            return {message.id: error for message in messages}
        batch_path = self._batch_routes.get((destination, path))
        if batch_path is None:
            for message in messages:
                outcomes[message.id] = await self._deliver_one(message)
            return outcomes
        chunks = [
            messages[start : start + MAX_BATCH_MESSAGES]
            for start in range(0, len(messages), MAX_BATCH_MESSAGES)
        ]
        if (destination, path) in UNORDERED_ROUTES:  # the receiver works on several at once
            parts = await asyncio.gather(
                *(self._deliver_chunk(destination, path, batch_path, c) for c in chunks)
            )
        else:
            parts = [await self._deliver_chunk(destination, path, batch_path, c) for c in chunks]
        for part in parts:
            outcomes.update(part)
        return outcomes

    async def _deliver_chunk(
        self, destination: str, path: str, batch_path: str, chunk: list[Pending]
    ) -> Outcomes:
        part = await self._deliver_batch(destination, batch_path, chunk)
        if part is None:  # the receiver predates its batch route: one call each
            part = {message.id: await self._deliver_one(message) for message in chunk}
        return part

    async def _deliver_batch(
        self, destination: str, path: str, messages: list[Pending]
    ) -> Outcomes | None:
        body = b'{"messages":[' + ",".join(m.payload for m in messages).encode() + b"]}"
        try:
            response = await self._client.request(
                destination, "POST", path, content=body, retry=True, read_timeout=BATCH_TIMEOUT
            )
        except PeerUnavailable as unavailable:
            return dict.fromkeys((m.id for m in messages), str(unavailable))
        if response.status_code in (404, 405):
            return None
        error = _failure(response)
        if error is not None:
            return dict.fromkeys((m.id for m in messages), error)
        try:
            results = response.json()["results"]
            by_index = {int(row["index"]): row for row in results}
        except (ValueError, KeyError, TypeError):
            error = f"the batch answer of {destination} is not readable: {response.text[:200]}"
            return dict.fromkeys((m.id for m in messages), error)
        outcomes: Outcomes = {}
        for index, message in enumerate(messages):
            row = by_index.get(index)
            row = row if isinstance(row, dict) else {}
            status = row.get("status")
            if status in ("stored", "duplicate"):
                outcomes[message.id] = None
            elif status == "refused":
                outcomes[message.id] = f"{REFUSED} {row.get('detail') or 'no reason given'}"
            else:
                outcomes[message.id] = f"the batch answer of {destination} has no result for it"
        return outcomes

    async def _deliver_one(self, message: Pending) -> str | None:
        payload = orjson.loads(message.payload)
        try:
            response = await self._client.request(
                message.destination,
                "POST",
                message.path,
                json=payload,
                tenant_id=payload.get("tenant_id"),
                retry=True,
            )
        except PeerUnavailable as error:
            return str(error)
        return _failure(response)

    async def _record(
        self, session: AsyncSession, pending: Sequence[Pending], outcomes: Outcomes
    ) -> None:
        """Set-based: one UPDATE for the delivered, one per (error, backoff) for the others."""
        table = self._table
        delivered = [m.id for m in pending if outcomes.get(m.id) is None]
        if delivered:
            await session.execute(
                update(table)
                .where(table.c.id == any_(_ids(delivered)))
                .values(delivered_at=func.now(), attempts=table.c.attempts + 1, last_error=None)
            )
        failed: dict[tuple[str, timedelta], list[str]] = {}
        for message in pending:
            error = outcomes.get(message.id)
            if error is None:
                continue
            delay = min(timedelta(seconds=2 ** min(message.attempts, 16)), MAX_BACKOFF)
            if error.startswith(REFUSED):
                # Kept, not dropped: a fixed receiver still gets it, at the slowest pace.
                logger.error(
                    "outbox message %s refused by %s: %s", message.id, message.destination, error
                )
                delay = MAX_BACKOFF
            failed.setdefault((error[:1000], delay), []).append(message.id)
        now = datetime.now(UTC)
        for (error, delay), ids in failed.items():
            await session.execute(
                update(table)
                .where(table.c.id == any_(_ids(ids)))
                .values(
                    attempts=table.c.attempts + 1, last_error=error, next_attempt_at=now + delay
                )
            )

    async def pending_count(self) -> int:
        table = self._table
        async with self._sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(table).where(table.c.delivered_at.is_(None))
            )
        return int(count or 0)

    async def refresh_lag(self) -> None:
        """Read the backlog per destination into the lag gauges (called when /metrics is read)."""
        if self._lag is None:
            return
        table = self._table
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        table.c.destination,
                        func.count(),
                        func.extract("epoch", func.now() - func.min(table.c.created_at)),
                    )
                    .where(table.c.delivered_at.is_(None))
                    .group_by(table.c.destination)
                )
            ).all()
        self._lag.set_backlog({row[0]: (int(row[1]), float(row[2] or 0)) for row in rows})


def _ids(ids: list[str]) -> BindParameter[Any]:
    """Message ids as one array parameter: `id = ANY($1)` is one prepared statement whatever the
    count, where `IN (...)` renders (and Postgres parses) a new one of thousands of parameters."""
    array: TypeEngine[Any] = ARRAY(Text())
    return bindparam(None, ids, type_=array)


def _failure(response: httpx.Response) -> str | None:
    """None for a 2xx; else why, prefixed REFUSED when the answer will not change by itself."""
    if response.status_code in TRANSIENT_STATUSES or response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    if response.status_code >= 300:
        return f"{REFUSED} HTTP {response.status_code}: {response.text[:500]}"
    return None


class RelayLag:
    """The relay's Prometheus series (defined in Metrics): backlog and oldest pending age per
    destination, refreshed at scrape, and messages by outcome. A destination's gauges exist from
    its first message on (0 once nothing waits)."""

    def __init__(self, metrics: Metrics) -> None:
        self._service = metrics.service_name
        self.pending = metrics.outbox_pending
        self.oldest_age = metrics.outbox_oldest_age
        self.messages = metrics.outbox_messages
        self._seen: set[str] = set()

    def set_backlog(self, backlog: Mapping[str, tuple[int, float]]) -> None:
        for destination in self._seen - set(backlog):
            self.pending.labels(self._service, destination).set(0)
            self.oldest_age.labels(self._service, destination).set(0)
        for destination, (count, age) in backlog.items():
            self.pending.labels(self._service, destination).set(count)
            self.oldest_age.labels(self._service, destination).set(max(age, 0.0))
        self._seen |= set(backlog)

    def count(self, pending: Sequence[Pending], outcomes: Outcomes) -> None:
        tally: dict[tuple[str, str], int] = {}
        for message in pending:
            error = outcomes.get(message.id)
            outcome = (
                "delivered"
                if error is None
                else "refused"
                if error.startswith(REFUSED)
                else "retry"
            )
            key = (message.destination, outcome)
            tally[key] = tally.get(key, 0) + 1
        for (destination, outcome), amount in tally.items():
            self.messages.labels(self._service, destination, outcome).inc(amount)
            self._seen.add(destination)
