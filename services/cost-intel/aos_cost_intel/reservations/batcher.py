"""Group commit for reservations: the holds one worker is asked for at about the same time are
decided by ONE statement (`cost_intel.reserve_holds`, migration 0008) and one commit.

Why: 50 callers reserving against one budget each took that budget's row lock and paid a commit
(a WAL flush) while the others queued on it, so the 50th waited for 49 lock-and-commit cycles.
Here a reserve joins the pending list; when no batch is being sent, the pending ones leave at the
end of the current event-loop turn, so everything that arrived meanwhile goes together. The
statement locks every budget of the batch once, in (tenant, id) order, and decides the
reservations one by one in arrival order against the running held amounts: the same answers as
one statement per reservation in that order, so THE INVARIANT (service.py) holds exactly as
before. Batches are per worker process; across workers the budget row locks still guard (settles,
releases and the expiry sweep take no budget lock: migration 0010).

A batch that fails as a whole (a database error) is retried one reservation at a time, so an
error answers only the caller whose reservation causes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg

from aos_cost_intel.budgets.repository import week_start
from aos_cost_intel.models import SCHEMA

logger = logging.getLogger("aos.cost_intel.reservations")

MAX_BATCH = 256
"""Reservations per statement: enough that a burst of callers goes in one or two batches."""
IN_FLIGHT = 1
"""Batches a worker sends at once: one deciding while the next gathers everything that arrives
meanwhile. With two, batches were half as big and PostgreSQL's CPU per reservation (a batch costs
about 0.3 ms whatever its size) higher: 0.08-0.09 ms with one against 0.10-0.12 ms with two
(bench/reservations.py, distinct budgets, 50 callers)."""


@dataclass(frozen=True)
class HoldRequest:
    tenant_id: str
    reservation_id: str
    amount: Decimal
    wanted: Sequence[tuple[str, str]]
    """(budget_type, entity_key) of every budget that applies (budgets.repository)."""
    ttl_seconds: int
    user_id: str | None
    feature_tag: str | None
    model: str | None
    run_id: str | None
    api_key_id: str | None


@dataclass(frozen=True)
class HoldAnswer:
    """What the statement decided for one reservation: the budgets it holds, with what remains
    of each (or the refusing budget alone, `refused`), and the moment it was decided."""

    rows: list[asyncpg.Record]
    created_at: datetime
    expires_at: datetime

    @property
    def refusal(self) -> asyncpg.Record | None:
        return next((row for row in self.rows if row["r_refused"]), None)


Waiting = tuple[HoldRequest, "asyncio.Future[HoldAnswer]"]


class ReserveBatcher:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._pending: list[Waiting] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def hold(self, request: HoldRequest) -> HoldAnswer:
        """Decide `request` with whatever else is pending; a refusal is an answer, not an error."""
        future: asyncio.Future[HoldAnswer] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._schedule()
        return await future

    async def drain(self) -> None:
        """Wait for the batches already sent (shutdown, before the pool closes)."""
        while self._tasks or self._pending:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await asyncio.sleep(0)

    def _schedule(self) -> None:
        if not self._scheduled and self._in_flight < IN_FLIGHT and self._pending:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        """At the end of the turn: everything pending (up to MAX_BATCH) leaves as one batch."""
        self._scheduled = False
        if self._in_flight >= IN_FLIGHT or not self._pending:
            return
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        self._schedule()

    async def _run(self, batch: list[Waiting]) -> None:
        try:
            answers = await self._decide([request for request, _ in batch])
        except Exception as error:  # every caller must hear back
            if len(batch) > 1:
                logger.warning("reservation batch of %d failed (%s); one by one", len(batch), error)
                for item in batch:
                    await self._run([item])
                return
            _answer(batch[0][1], error)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            _answer(future, answer)

    async def _decide(self, requests: list[HoldRequest]) -> list[HoldAnswer]:
        now = datetime.now(UTC)
        today = now.date()
        async with self._pool.acquire() as connection:
            rows = await reserve_holds(connection, requests, today, now)
        by_item: dict[int, list[asyncpg.Record]] = defaultdict(list)
        for row in rows:
            by_item[row["r_item"]].append(row)
        return [
            HoldAnswer(by_item.get(index, []), now, now + timedelta(seconds=request.ttl_seconds))
            for index, request in enumerate(requests, start=1)
        ]


def _answer(future: asyncio.Future[HoldAnswer], outcome: HoldAnswer | Exception) -> None:
    if future.done():  # the caller went away (cancelled); its hold stands until it expires
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def reserve_holds(
    conn: asyncpg.Connection, requests: Sequence[HoldRequest], today: date, now: datetime
) -> list[asyncpg.Record]:
    """One `reserve_holds` statement (outside any transaction, so the budget locks end with it):
    rows of (r_item, r_budget, r_period, r_remaining, r_refused), items numbered from 1."""
    w_item: list[int] = []
    w_types: list[str] = []
    w_keys: list[str] = []
    for index, request in enumerate(requests, start=1):
        for kind, key in request.wanted:
            w_item.append(index)
            w_types.append(kind)
            w_keys.append(key)
    return await conn.fetch(
        f"SELECT * FROM {SCHEMA}.reserve_holds($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
        "$12, $13, $14, $15, $16)",
        [r.tenant_id for r in requests],
        [r.amount for r in requests],
        [r.reservation_id for r in requests],
        [r.user_id for r in requests],
        [r.feature_tag for r in requests],
        [r.model for r in requests],
        [r.run_id for r in requests],
        [r.api_key_id for r in requests],
        [now + timedelta(seconds=r.ttl_seconds) for r in requests],
        w_item,
        w_types,
        w_keys,
        today,
        week_start(today),
        today.replace(day=1),
        now,
    )
