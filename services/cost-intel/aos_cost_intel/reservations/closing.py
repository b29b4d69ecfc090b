"""Group commit for settles and releases: the ones a worker is asked for at about the same time
share one transaction and one commit, whatever their tenants.

Why: a settle records its cost, which adds to the tenant's rollup rows, and takes its hold off
(reservations/repository.py `close_holds`); alone, each settle paid its own transaction: about
eight round trips, the rollup and close functions, and a commit. On one contended tenant 50
callers queued for 50 of those; on 1,000 tenants every settle was a transaction of its own. Here
everything that arrives while the previous batch commits goes together: the batch's reservations
are locked in (tenant, id) order, each is checked (404 / 409 / 422 answer only its own caller),
the records of every tenant are claimed tenant by tenant and stored in one COPY and one rollup
call, and `close_holds` (migration 0010) charges keys, takes holds off and closes them, once per
tenant in tenant order, then one commit. Every lock is taken in that (tenant, key) order, so two
workers' batches cannot deadlock. One batch is in flight per worker; a batch that fails as a
whole is retried one job at a time.

The batch runs in a transaction of its own, not the request's: with an Idempotency-Key the key
and its stored reply commit just after the settle, so a worker that dies between the two commits
leaves a settled reservation whose retry answers 409 "already settled (charged ...)" rather than
the replay (the charge is never doubled).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_common.db import session_scope
from aos_common.errors import ProblemError
from aos_cost_intel.prices.service import PriceBookCache
from aos_cost_intel.records.repository import NewRecord
from aos_cost_intel.records.schemas import CostRecordIn
from aos_cost_intel.records.service import (
    Outcome,
    occurred_ats,
    prepare_records,
    prices_of,
    store,
    total_of,
)
from aos_cost_intel.reservations import repository
from aos_cost_intel.reservations.schemas import ReservationRead, SettleRequest
from aos_cost_intel.reservations.service import (
    check_releasable,
    check_settleable,
    closed_read,
    report_overshoot,
    settle_items,
    settled_read,
)

logger = logging.getLogger("aos.cost_intel.reservations")

MAX_BATCH = 256
transaction = asynccontextmanager(session_scope)
"""One transaction (aos_common.db.session_scope): commit on success, roll back on error."""


@dataclass(frozen=True)
class CloseJob:
    tenant_id: str
    reservation_id: str
    settle: SettleRequest | None
    """What to settle with; None releases."""


Answer = ReservationRead | Exception


@asynccontextmanager
async def _begin(session: AsyncSession) -> AsyncIterator[asyncpg.Connection]:
    """The session's asyncpg connection inside a transaction begun on the driver (commit on
    success, roll back on error). The batch engine is in autocommit mode (reservations/pool.py),
    so SQLAlchemy sends no BEGIN of its own and its statements (price book, feature tags,
    anomalies) run inside this transaction; beginning it here costs one round trip, where
    `aos_common.db.driver_connection` costs a BEGIN and a `SELECT 1`."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    async with driver.transaction():
        yield driver


Waiting = tuple[CloseJob, "asyncio.Future[ReservationRead]"]


@dataclass
class _Settling:
    index: int
    row: asyncpg.Record  # its tenant_id is the job's
    items: list[CostRecordIn]
    outcomes: list[Outcome] | None = None


class CloseBatcher:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], prices: PriceBookCache
    ) -> None:
        self._sessionmaker = sessionmaker
        self._prices = prices
        self._pending: list[Waiting] = []
        self._busy = False
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self, job: CloseJob) -> ReservationRead:
        """Settle or release with whatever else is pending; a 404, 409 or 422 is raised to this
        caller alone."""
        future: asyncio.Future[ReservationRead] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        self._schedule()
        return await future

    async def drain(self) -> None:
        while self._tasks or self._pending:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await asyncio.sleep(0)

    def _schedule(self) -> None:
        if not self._busy and not self._scheduled and self._pending:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        if self._busy or not self._pending:
            return
        waiting, self._pending = self._pending, []
        # One job per reservation in a batch; a repeat waits for the next (and hears its 409).
        batch: list[Waiting] = []
        seen: set[tuple[str, str]] = set()
        for item in waiting:
            key = (item[0].tenant_id, item[0].reservation_id)
            if len(batch) < MAX_BATCH and key not in seen:
                seen.add(key)
                batch.append(item)
            else:
                self._pending.append(item)
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._busy = False
        self._schedule()

    async def _run(self, batch: list[Waiting]) -> None:
        try:
            answers = await self._decide([job for job, _ in batch])
        except Exception as error:  # every caller must hear back
            if len(batch) > 1:
                logger.warning("settle batch of %d failed (%s); one by one", len(batch), error)
                for item in batch:
                    await self._run([item])
                return
            answers = [error]
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the caller went away; what was decided stands
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def _decide(self, jobs: Sequence[CloseJob]) -> list[Answer]:
        """One transaction: lock, check, record, close; the answers once it has committed."""
        answers: list[Answer | None] = [None] * len(jobs)
        async with self._sessionmaker() as session, _begin(session) as conn:
            rows = await repository.lock_many(
                conn, [(job.tenant_id, job.reservation_id) for job in jobs]
            )
            now = datetime.now(UTC)
            settling, releasing = await self._check(session, jobs, rows, now, answers)
            await self._record(session, conn, settling)
            charged = [total_of(s.outcomes or []) for s in settling]
            anomalies = [
                await report_overshoot(session, s.row, amount, now)
                for s, amount in zip(settling, charged, strict=True)
            ]
            closing: dict[str, list[tuple[str, str, Decimal | None]]] = defaultdict(list)
            for s, amount in zip(settling, charged, strict=True):
                closing[s.row["tenant_id"]].append((s.row["id"], "settled", amount))
            for _, row in releasing:
                closing[row["tenant_id"]].append((row["id"], "released", None))
            holds: dict[tuple[str, str], list[asyncpg.Record]] = {}
            for tenant_id in sorted(closing):
                closed = await repository.close_holds(conn, tenant_id, closing[tenant_id], now)
                holds.update(((tenant_id, rid), budgets) for rid, budgets in closed.items())
        # committed: now the answers
        for s, amount, anomaly_id in zip(settling, charged, anomalies, strict=True):
            answers[s.index] = settled_read(
                s.row, s.outcomes or [], amount, now, holds[_key(s.row)], anomaly_id
            )
        for index, row in releasing:
            answers[index] = closed_read(row, "released", None, now, holds[_key(row)])
        return [answer if answer is not None else RuntimeError("undecided") for answer in answers]

    async def _check(
        self,
        session: AsyncSession,
        jobs: Sequence[CloseJob],
        rows: dict[tuple[str, str], asyncpg.Record],
        now: datetime,
        answers: list[Answer | None],
    ) -> tuple[list[_Settling], list[tuple[int, asyncpg.Record]]]:
        """Split the jobs into settles and releases that can go ahead; the others get their
        problem (404, 409, or 422 for records that cannot be priced) as their answer."""
        settling: list[_Settling] = []
        releasing: list[tuple[int, asyncpg.Record]] = []
        book = None
        for index, job in enumerate(jobs):
            row = rows.get((job.tenant_id, job.reservation_id))
            try:
                if job.settle is None:
                    releasing.append((index, check_releasable(row)))
                    continue
                row = check_settleable(row, now)
                items = settle_items(row, job.settle)
                if book is None and any(item.get("cost_cents") is None for item in items):
                    book = await self._prices.current(session)
                prices_of(items, occurred_ats(items, now, "records."), book, "records.")
                settling.append(_Settling(index, row, items))
            except ProblemError as problem:
                answers[index] = problem
        return settling, releasing

    async def _record(
        self, session: AsyncSession, conn: asyncpg.Connection, settling: list[_Settling]
    ) -> None:
        """Every settle's records: priced and claimed tenant by tenant (in tenant order), stored
        in one call for all (checked already, so none refuses the others)."""
        by_tenant: dict[str, list[_Settling]] = defaultdict(list)
        for s in settling:
            by_tenant[s.row["tenant_id"]].append(s)
        fresh: list[NewRecord] = []
        for tenant_id in sorted(by_tenant):
            tenant_settling = by_tenant[tenant_id]
            items = [item for s in tenant_settling for item in s.items]
            stored, outcomes = await prepare_records(
                session, tenant_id, items, self._prices, field_prefix="records."
            )
            fresh.extend(stored)
            _share(tenant_settling, outcomes)
        if fresh:
            await store(conn, fresh, _nothing)


def _share(settling: Iterable[_Settling], outcomes: list[Outcome]) -> None:
    """Hand each settle its own records' outcomes (`outcomes` in the settles' item order)."""
    start = 0
    for s in settling:
        s.outcomes = outcomes[start : start + len(s.items)]
        start += len(s.items)


def _key(row: asyncpg.Record) -> tuple[str, str]:
    return (row["tenant_id"], row["id"])


def _nothing() -> None:
    return None
