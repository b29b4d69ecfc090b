"""Group commit for settles and releases: the ones a worker is asked for on one tenant at about
the same time share one transaction and one commit.

Why: a settle records its cost, which adds to the tenant's rollup rows, and takes its hold off
the tenant's budget rows; both stay locked until its commit, so 50 callers settling on one tenant
queued for 50 lock-and-commit cycles (the budget row's queue held reservations back too). Here
the settles and releases of a tenant that arrive while its previous batch is being committed go
together: their reservations are locked in id order, each is checked (404 / 409 / 422 answer
only its own caller), their costs are recorded in one call, and one last statement
(`close_holds`, migration 0008) locks their budgets once, charges their keys, takes the holds off
and closes them, then one commit. Tenants are batched separately (they share no rows), at most
one batch in flight per tenant. A batch that fails as a whole is retried one at a time.

The batch runs in a transaction of its own, not the request's: with an Idempotency-Key the key
and its stored reply commit just after the settle, so a worker that dies between the two commits
leaves a settled reservation whose retry answers 409 "already settled (charged ...)" rather than
the replay (the charge is never doubled).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_common.db import session_scope
from aos_common.errors import ProblemError
from aos_cost_intel.prices.service import PriceBookCache
from aos_cost_intel.records.schemas import CostRecordIn
from aos_cost_intel.records.service import Outcome, occurred_ats, prices_of, record_costs, total_of
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
    row: asyncpg.Record
    items: list[CostRecordIn]
    outcomes: list[Outcome] | None = None


class CloseBatcher:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], prices: PriceBookCache
    ) -> None:
        self._sessionmaker = sessionmaker
        self._prices = prices
        self._pending: dict[str, list[Waiting]] = defaultdict(list)
        self._busy: set[str] = set()
        self._scheduled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self, tenant_id: str, job: CloseJob) -> ReservationRead:
        """Settle or release with whatever else is pending for the tenant; a 404, 409 or 422
        is raised to this caller alone."""
        future: asyncio.Future[ReservationRead] = asyncio.get_running_loop().create_future()
        self._pending[tenant_id].append((job, future))
        self._schedule(tenant_id)
        return await future

    async def drain(self) -> None:
        while self._tasks or any(self._pending.values()):
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await asyncio.sleep(0)

    def _schedule(self, tenant_id: str) -> None:
        if tenant_id in self._busy or tenant_id in self._scheduled:
            return
        if self._pending.get(tenant_id):
            self._scheduled.add(tenant_id)
            asyncio.get_running_loop().call_soon(self._send, tenant_id)

    def _send(self, tenant_id: str) -> None:
        self._scheduled.discard(tenant_id)
        waiting = self._pending.pop(tenant_id, [])
        if tenant_id in self._busy or not waiting:
            return
        # One job per reservation in a batch; a repeat waits for the next (and hears its 409).
        batch: list[Waiting] = []
        seen: set[str] = set()
        for item in waiting:
            if len(batch) < MAX_BATCH and item[0].reservation_id not in seen:
                seen.add(item[0].reservation_id)
                batch.append(item)
            else:
                self._pending[tenant_id].append(item)
        self._busy.add(tenant_id)
        task = asyncio.get_running_loop().create_task(self._run(tenant_id, batch))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(tenant_id, done))

    def _done(self, tenant_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._busy.discard(tenant_id)
        self._schedule(tenant_id)

    async def _run(self, tenant_id: str, batch: list[Waiting]) -> None:
        try:
            answers = await self._decide(tenant_id, [job for job, _ in batch])
        except Exception as error:  # every caller must hear back
            if len(batch) > 1:
                logger.warning("settle batch of %d failed (%s); one by one", len(batch), error)
                for item in batch:
                    await self._run(tenant_id, [item])
                return
            answers = [error]
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the caller went away; what was decided stands
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def _decide(self, tenant_id: str, jobs: Sequence[CloseJob]) -> list[Answer]:
        """One transaction: lock, check, record, close; the answers once it has committed."""
        answers: list[Answer | None] = [None] * len(jobs)
        async with self._sessionmaker() as session, _begin(session) as conn:
            rows = await repository.lock_many(conn, tenant_id, [j.reservation_id for j in jobs])
            now = datetime.now(UTC)
            settling, releasing = await self._check(session, jobs, rows, now, answers)
            await self._record(session, tenant_id, settling)
            charged = [total_of(s.outcomes or []) for s in settling]
            anomalies = [
                await report_overshoot(session, s.row, amount, now)
                for s, amount in zip(settling, charged, strict=True)
            ]
            closing: list[tuple[str, str, Decimal | None]] = [
                (s.row["id"], "settled", amount)
                for s, amount in zip(settling, charged, strict=True)
            ] + [(row["id"], "released", None) for _, row in releasing]
            holds = await repository.close_holds(conn, tenant_id, closing, now) if closing else {}
        # committed: now the answers
        for s, amount, anomaly_id in zip(settling, charged, anomalies, strict=True):
            answers[s.index] = settled_read(
                s.row, s.outcomes or [], amount, now, holds[s.row["id"]], anomaly_id
            )
        for index, row in releasing:
            answers[index] = closed_read(row, "released", None, now, holds[row["id"]])
        return [answer if answer is not None else RuntimeError("undecided") for answer in answers]

    async def _check(
        self,
        session: AsyncSession,
        jobs: Sequence[CloseJob],
        rows: dict[str, asyncpg.Record],
        now: datetime,
        answers: list[Answer | None],
    ) -> tuple[list[_Settling], list[tuple[int, asyncpg.Record]]]:
        """Split the jobs into settles and releases that can go ahead; the others get their
        problem (404, 409, or 422 for records that cannot be priced) as their answer."""
        settling: list[_Settling] = []
        releasing: list[tuple[int, asyncpg.Record]] = []
        book = None
        for index, job in enumerate(jobs):
            row = rows.get(job.reservation_id)
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
        self, session: AsyncSession, tenant_id: str, settling: list[_Settling]
    ) -> None:
        """Every settle's records in one call (checked already, so none refuses the others)."""
        items = [item for s in settling for item in s.items]
        if not items:
            return
        outcomes = await record_costs(
            session, tenant_id, items, self._prices, field_prefix="records."
        )
        start = 0
        for s in settling:
            s.outcomes = outcomes[start : start + len(s.items)]
            start += len(s.items)
