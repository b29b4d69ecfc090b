"""Recording cost: pricing, feature classification, exactly-once per request id, rollups.

One path serves the single route, the batch route and the internal route: a batch is
all-or-nothing (any invalid record refuses the whole call), a request id already stored answers
with the stored record, and a request id repeated inside one batch is recorded once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.errors import Unprocessable
from aos_cost_intel.engines.money import EXACT, ZERO
from aos_cost_intel.engines.pricing import PriceBook, TokenUsage, cost_cents
from aos_cost_intel.features.service import classify
from aos_cost_intel.ids import new_id
from aos_cost_intel.prices.service import PriceBookCache
from aos_cost_intel.records import repository
from aos_cost_intel.records.repository import (
    DAILY_UPSERT,
    DIMENSION_UPSERT,
    HOURLY_UPSERT,
    DimensionDelta,
    NewRecord,
    RollupDelta,
)
from aos_cost_intel.records.schemas import CostRecordCreate

MAX_AGE = timedelta(days=400)
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    id: str
    cost_cents: Decimal
    price_version: str | None
    duplicate: bool


def _field(prefix: str, index: int, name: str) -> str:
    return f"{prefix}{index}.{name}" if prefix else name


def occurred_at(item: CostRecordCreate, now: datetime, where: str) -> datetime:
    """When the call happened, in UTC; a little clock skew ahead is clamped to now."""
    if item.occurred_at is None:
        return now
    moment = item.occurred_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment > now + MAX_CLOCK_SKEW:
        raise Unprocessable(
            "occurred_at must not be in the future",
            extra={"errors": [{"field": where, "message": "must not be in the future"}]},
        )
    if moment < now - MAX_AGE:
        raise Unprocessable(
            "occurred_at must be within the last 400 days",
            extra={"errors": [{"field": where, "message": "must be within the last 400 days"}]},
        )
    return min(moment, now)


def usage_of(item: CostRecordCreate) -> TokenUsage:
    return TokenUsage(
        input_tokens=item.input_tokens,
        cache_read_input_tokens=item.cache_read_input_tokens,
        cache_creation_input_tokens=item.cache_creation_input_tokens,
        output_tokens=item.output_tokens,
        reasoning_output_tokens=item.reasoning_output_tokens,
    )


def price_item(
    item: CostRecordCreate, at: datetime, book: PriceBook | None, where: str
) -> tuple[Decimal, str, str | None]:
    """(cost, source, price version): the client's cost as sent, or priced from the book."""
    if item.cost_cents is not None:
        return item.cost_cents, "client", None
    price = book.find(item.model, at) if book is not None else None
    if price is None or book is None:
        detail = f"No price known for model '{item.model}'; send cost_cents"
        raise Unprocessable(detail, extra={"errors": [{"field": where, "message": detail}]})
    return cost_cents(usage_of(item), price), "priced", book.version


def rollup_deltas(records: Sequence[NewRecord]) -> tuple[list[RollupDelta], list[RollupDelta]]:
    """Hourly and daily rollup increments of `records`, each sorted by key (sums are exact)."""
    hourly: dict[tuple[Any, ...], list[Any]] = {}
    daily: dict[tuple[Any, ...], list[Any]] = {}
    add = EXACT.add
    for record in records:
        moment = record.occurred_at
        hour = moment.replace(minute=0, second=0, microsecond=0)
        user = record.user_id or ""
        for table, key in (
            (hourly, (record.tenant_id, hour, record.feature_tag, user, record.model)),
            (daily, (record.tenant_id, hour.date(), record.feature_tag, user, record.model)),
        ):
            sums = table.get(key)
            if sums is None:
                table[key] = [
                    record.cost_cents,
                    1,
                    record.input_tokens,
                    record.output_tokens,
                    record.cache_read_input_tokens,
                    record.cache_creation_input_tokens,
                    record.reasoning_output_tokens,
                ]
            else:
                sums[0] = add(sums[0], record.cost_cents)
                sums[1] += 1
                sums[2] += record.input_tokens
                sums[3] += record.output_tokens
                sums[4] += record.cache_read_input_tokens
                sums[5] += record.cache_creation_input_tokens
                sums[6] += record.reasoning_output_tokens
    return (
        [RollupDelta(*key, *hourly[key]) for key in sorted(hourly)],
        [RollupDelta(*key, *daily[key]) for key in sorted(daily)],
    )


def dimension_deltas(
    hourly: Sequence[RollupDelta], daily: Sequence[RollupDelta]
) -> list[DimensionDelta]:
    """Fold wide rollup increments into per-dimension ones (total, feature, user, model), sorted."""
    sums: dict[tuple[str, str, str, datetime, str], list[Any]] = {}
    for grain, deltas in (("h", hourly), ("d", daily)):
        for delta in deltas:
            bucket = delta.bucket
            if not isinstance(bucket, datetime):
                bucket = datetime(bucket.year, bucket.month, bucket.day, tzinfo=UTC)
            for dim, key in (
                ("total", ""),
                ("feature", delta.feature_tag),
                ("user", delta.user_id),
                ("model", delta.model),
            ):
                row_key = (delta.tenant_id, dim, grain, bucket, key)
                current = sums.get(row_key)
                values = delta[5:]
                if current is None:
                    sums[row_key] = list(values)
                else:
                    current[0] = EXACT.add(current[0], values[0])
                    for position in range(1, 7):
                        current[position] += values[position]
    return [DimensionDelta(*key, *sums[key]) for key in sorted(sums)]


async def record_costs(
    session: AsyncSession,
    tenant_id: str,
    items: Sequence[CostRecordCreate],
    prices: PriceBookCache,
    *,
    field_prefix: str = "",
) -> list[Outcome]:
    """Store `items` (all or nothing) and return one outcome per item, in order."""
    now = datetime.now(UTC)
    moments = [
        occurred_at(item, now, _field(field_prefix, i, "occurred_at"))
        for i, item in enumerate(items)
    ]
    book = None
    if any(item.cost_cents is None for item in items):
        book = await prices.current(session)
    priced = [
        price_item(item, moments[i], book, _field(field_prefix, i, "model"))
        for i, item in enumerate(items)
    ]
    tags = await classify(session, tenant_id, [item.feature_tag for item in items])
    records = [
        NewRecord(
            tenant_id=tenant_id,
            occurred_at=moments[i],
            id=new_id("cr_"),
            user_id=item.user_id,
            feature_tag=tags[i],
            request_id=item.request_id,
            workflow_id=item.workflow_id,
            skill_id=item.skill_id,
            model=item.model,
            input_tokens=item.input_tokens,
            output_tokens=item.output_tokens,
            cache_read_input_tokens=item.cache_read_input_tokens,
            cache_creation_input_tokens=item.cache_creation_input_tokens,
            reasoning_output_tokens=item.reasoning_output_tokens,
            cost_cents=priced[i][0],
            cost_source=priced[i][1],
            price_version=priced[i][2],
        )
        for i, item in enumerate(items)
    ]
    conn = await repository.driver(session)
    first_of: dict[str, int] = {}
    for index, record in enumerate(records):
        if record.request_id is not None:
            first_of.setdefault(record.request_id, index)
    claimed = await repository.claim_request_ids(
        conn,
        tenant_id,
        [(rid, records[i].id, records[i].occurred_at) for rid, i in first_of.items()],
    )
    earlier = await repository.claimed_records(
        conn, tenant_id, [r for r in first_of if r not in claimed]
    )
    fresh = [
        record
        for index, record in enumerate(records)
        if record.request_id is None
        or (record.request_id in claimed and first_of[record.request_id] == index)
    ]
    await repository.copy_records(conn, fresh)
    hourly, daily = rollup_deltas(fresh)
    await repository.upsert_rollups(conn, HOURLY_UPSERT, hourly)
    await repository.upsert_rollups(conn, DAILY_UPSERT, daily)
    await repository.upsert_rollups(conn, DIMENSION_UPSERT, dimension_deltas(hourly, daily))
    outcomes: list[Outcome] = []
    for index, record in enumerate(records):
        rid = record.request_id
        if rid is None or (rid in claimed and first_of[rid] == index):
            outcomes.append(Outcome(record.id, record.cost_cents, record.price_version, False))
        elif rid in claimed:
            first = records[first_of[rid]]
            outcomes.append(Outcome(first.id, first.cost_cents, first.price_version, True))
        else:
            stored_id, stored_cost, stored_version = earlier[rid]
            outcomes.append(Outcome(stored_id, stored_cost, stored_version, True))
    return outcomes


def total_of(outcomes: Sequence[Outcome]) -> Decimal:
    total = ZERO
    for outcome in outcomes:
        if not outcome.duplicate:
            total = EXACT.add(total, outcome.cost_cents)
    return total
