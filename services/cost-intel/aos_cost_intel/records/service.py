"""Recording cost: pricing, feature classification, exactly-once per request id, rollups.

One path serves the single route, the batch route and the internal route: a batch is
all-or-nothing (any invalid record refuses the whole call), a request id already stored answers
with the stored record, and a request id repeated inside one batch is recorded once. Records come
in as validated dicts (CostRecordIn; the single routes pass `model_dump()`), where an absent key
means the default and an empty identifier means none.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common import domain_metrics
from aos_common.db import driver_connection
from aos_common.errors import Unprocessable
from aos_cost_intel.budgets.repository import add_key_spend_days
from aos_cost_intel.domain.money import EXACT, ZERO
from aos_cost_intel.domain.pricing import PriceBook, token_cost
from aos_cost_intel.features.service import classify
from aos_cost_intel.prices.service import PriceBookCache
from aos_cost_intel.records import repository
from aos_cost_intel.records.repository import NewRecord, RollupDelta
from aos_cost_intel.records.schemas import CostRecordIn

MAX_AGE = timedelta(days=400)
MAX_CLOCK_SKEW = timedelta(minutes=5)
T = TypeVar("T")


class Outcome(NamedTuple):
    id: str
    cost_cents: Decimal
    price_version: str | None
    duplicate: bool


def _field(prefix: str, index: int, name: str) -> str:
    return f"{prefix}{index}.{name}" if prefix else name


def _refuse(detail: str, field: str, message: str) -> Unprocessable:
    return Unprocessable(detail, extra={"errors": [{"field": field, "message": message}]})


def occurred_ats(items: Sequence[CostRecordIn], now: datetime, prefix: str = "") -> list[datetime]:
    """When each call happened, in UTC; a little clock skew ahead is clamped to now. The first
    moment out of bounds refuses the call."""
    latest, earliest = now + MAX_CLOCK_SKEW, now - MAX_AGE
    moments = []
    for index, item in enumerate(items):
        moment = item.get("occurred_at")
        if moment is None:
            moments.append(now)
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        if moment > latest:
            raise _refuse(
                "occurred_at must not be in the future",
                _field(prefix, index, "occurred_at"),
                "must not be in the future",
            )
        if moment < earliest:
            raise _refuse(
                "occurred_at must be within the last 400 days",
                _field(prefix, index, "occurred_at"),
                "must be within the last 400 days",
            )
        moments.append(min(moment, now))
    return moments


def prices_of(
    items: Sequence[CostRecordIn],
    moments: Sequence[datetime],
    book: PriceBook | None,
    prefix: str = "",
) -> list[tuple[Decimal, str, str | None]]:
    """(cost, source, price version) per item: the client's cost as sent, or priced from the book
    (each token type at its own rate). The first model without a price refuses the call."""
    priced: list[tuple[Decimal, str, str | None]] = []
    for index, item in enumerate(items):
        cost = item.get("cost_cents")
        if cost is not None:
            priced.append((cost, "client", None))
            continue
        model = item["model"]
        price = book.find(model, moments[index]) if book is not None else None
        if price is None or book is None:
            detail = f"No price known for model '{model}'; send cost_cents"
            raise _refuse(detail, _field(prefix, index, "model"), detail)
        counts = (
            item.get("input_tokens", 0),
            item.get("cache_read_input_tokens", 0),
            item.get("cache_creation_input_tokens", 0),
            item.get("output_tokens", 0),
            item.get("reasoning_output_tokens", 0),
        )
        priced.append((token_cost(price, counts), "priced", book.version))
    return priced


class HourlyTally:
    """Exact hourly rollup increments of the records it is fed: the daily and per-dimension
    increments are folded from these in SQL."""

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str, str, str, int, int, int, int], list[Any]] = {}

    def counting(self, records: Iterable[NewRecord]) -> Iterator[NewRecord]:
        """Yield `records` unchanged, adding each to the sums: fed to COPY, the sums are taken
        while Postgres stores the rows already sent.

        `occurred_at` is in UTC (see `occurred_ats`), so its calendar fields name the UTC hour;
        keying on them costs a third of truncating 10,000 datetimes."""
        sums = self._sums
        add = EXACT.add
        for record in records:
            moment = record.occurred_at
            key = (
                record.tenant_id,
                record.feature_tag,
                record.user_id or "",
                record.model,
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
            )
            row = sums.get(key)
            if row is None:
                sums[key] = [
                    record.cost_cents,
                    1,
                    record.input_tokens,
                    record.output_tokens,
                    record.cache_read_input_tokens,
                    record.cache_creation_input_tokens,
                    record.reasoning_output_tokens,
                ]
            else:
                row[0] = add(row[0], record.cost_cents)
                row[1] += 1
                row[2] += record.input_tokens
                row[3] += record.output_tokens
                row[4] += record.cache_read_input_tokens
                row[5] += record.cache_creation_input_tokens
                row[6] += record.reasoning_output_tokens
            yield record

    def increments(self) -> list[RollupDelta]:
        return [
            RollupDelta(
                tenant, datetime(year, month, day, hour, tzinfo=UTC), tag, user, model, *row
            )
            for (tenant, tag, user, model, year, month, day, hour), row in self._sums.items()
        ]


async def store(
    conn: asyncpg.Connection,
    records: Sequence[NewRecord],
    meanwhile: Callable[[], T],
    key_id: str | None = None,
) -> T:
    """Store records and add them to every rollup (same transaction); returns `meanwhile()`,
    which runs while Postgres folds the rollups (the longest statement of a batch), so a
    response is built in time the call would otherwise spend waiting with its row locks held.

    With `key_id` (a record made with an API key), the records also count toward that key's
    spend per UTC day (`key_spend_daily`), which the key's own budget reads."""
    if not records:
        return meanwhile()
    tally = HourlyTally()
    await repository.copy_records(conn, tally.counting(records))
    domain_metrics.count_cost("cost-intel", ((r.model, r.cost_cents, _tokens(r)) for r in records))
    fold = asyncio.ensure_future(repository.add_to_rollups(conn, tally.increments()))
    await asyncio.sleep(0)  # the fold's first step sends its statement
    try:
        result = meanwhile()
    finally:
        await fold
    if key_id is not None:  # after the rollups: the lock order a settle follows
        await _charge_key(conn, records, key_id)
    return result


async def _charge_key(conn: asyncpg.Connection, records: Sequence[NewRecord], key_id: str) -> None:
    """Add `records` to the spend of the API key they were made with, per UTC day of
    occurrence: the windows the key's budget reads, like the rollups a tenant budget reads."""
    days: dict[date, Decimal] = {}
    for record in records:
        day = record.occurred_at.date()
        days[day] = EXACT.add(days.get(day, ZERO), record.cost_cents)
    await add_key_spend_days(conn, records[0].tenant_id, key_id, days)


def _tokens(record: NewRecord) -> dict[str, int]:
    return {
        "input": record.input_tokens,
        "output": record.output_tokens,
        "cache_read_input": record.cache_read_input_tokens,
        "cache_creation_input": record.cache_creation_input_tokens,
        "reasoning_output": record.reasoning_output_tokens,
    }


def record_ids(count: int) -> list[str]:
    """`cr_` + 16 hex ids, drawn from the OS in one call (one call per id costs more than the
    rest of a record's preparation)."""
    raw = secrets.token_hex(8 * count)
    return ["cr_" + raw[start : start + 16] for start in range(0, 16 * count, 16)]


async def record_costs(
    session: AsyncSession,
    tenant_id: str,
    items: Sequence[CostRecordIn],
    prices: PriceBookCache,
    *,
    field_prefix: str = "",
    key_id: str | None = None,
) -> list[Outcome]:
    """Store `items` (all or nothing) and return one outcome per item, in order."""
    return await record_and_render(
        session, tenant_id, items, prices, _same, field_prefix=field_prefix, key_id=key_id
    )


def _same(outcomes: list[Outcome]) -> list[Outcome]:
    return outcomes


async def record_and_render(
    session: AsyncSession,
    tenant_id: str,
    items: Sequence[CostRecordIn],
    prices: PriceBookCache,
    render: Callable[[list[Outcome]], T],
    *,
    field_prefix: str = "",
    key_id: str | None = None,
) -> T:
    """Store `items` (all or nothing) and return `render` of one outcome per item, in order;
    `render` runs while the rollup SQL does (see `store`) and must not touch the session.
    `key_id`: the API key the records were made with, charged with them (see `store`)."""
    fresh, outcomes = await prepare_records(
        session, tenant_id, items, prices, field_prefix=field_prefix
    )
    conn = await driver_connection(session)
    return await store(conn, fresh, lambda: render(outcomes), key_id)


async def prepare_records(
    session: AsyncSession,
    tenant_id: str,
    items: Sequence[CostRecordIn],
    prices: PriceBookCache,
    *,
    field_prefix: str = "",
) -> tuple[list[NewRecord], list[Outcome]]:
    """Price, classify and claim `items` of one tenant: the records `store` is to add (those whose
    request id no earlier record claimed) and one outcome per item, in order. Separate from
    `store` so that a settle batch over several tenants stores all their records at once."""
    moments = occurred_ats(items, datetime.now(UTC), field_prefix)
    book = None
    if any(item.get("cost_cents") is None for item in items):
        book = await prices.current(session)
    priced = prices_of(items, moments, book, field_prefix)
    tags = await classify(session, tenant_id, [item.get("feature_tag") for item in items])
    records = [
        NewRecord(
            tenant_id,
            moments[index],
            record_id,
            item.get("user_id") or None,
            tags[index],
            item.get("request_id") or None,
            item.get("workflow_id") or None,
            item.get("skill_id") or None,
            item["model"],
            item.get("input_tokens", 0),
            item.get("output_tokens", 0),
            item.get("cache_read_input_tokens", 0),
            item.get("cache_creation_input_tokens", 0),
            item.get("reasoning_output_tokens", 0),
            *priced[index],
        )
        for index, (item, record_id) in enumerate(zip(items, record_ids(len(items)), strict=True))
    ]
    first_of: dict[str, int] = {}
    for index, record in enumerate(records):
        if record.request_id is not None:
            first_of.setdefault(record.request_id, index)
    if not first_of:
        return records, [Outcome(r.id, r.cost_cents, r.price_version, False) for r in records]
    conn = await driver_connection(session)
    claimed = await repository.claim_request_ids(
        conn,
        tenant_id,
        [(rid, records[i].id, records[i].occurred_at) for rid, i in first_of.items()],
    )
    earlier = await repository.claimed_records(
        conn, tenant_id, [r for r in first_of if r not in claimed]
    )
    fresh: list[NewRecord] = []
    outcomes: list[Outcome] = []
    for index, record in enumerate(records):
        rid = record.request_id
        if rid is None or (rid in claimed and first_of[rid] == index):
            fresh.append(record)
            outcomes.append(Outcome(record.id, record.cost_cents, record.price_version, False))
        elif rid in claimed:
            first = records[first_of[rid]]
            outcomes.append(Outcome(first.id, first.cost_cents, first.price_version, True))
        else:
            stored_id, stored_cost, stored_version = earlier[rid]
            outcomes.append(Outcome(stored_id, stored_cost, stored_version, True))
    return fresh, outcomes


def total_of(outcomes: Sequence[Outcome]) -> Decimal:
    total = ZERO
    for outcome in outcomes:
        if not outcome.duplicate:
            total = EXACT.add(total, outcome.cost_cents)
    return total
