"""Repricing: recompute derived costs of a window under another price version (audited).

Client-sent costs are never touched; records whose model has no price in that version keep their
cost. Rollups of every hour and day the window touches are rebuilt from the records, in the same
transaction, so reports stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.auth import Principal
from aos_common.db import driver_connection
from aos_common.errors import BadRequest
from aos_cost_intel.domain.money import EXACT, ZERO, plain
from aos_cost_intel.domain.periods import floor_hour
from aos_cost_intel.domain.pricing import PriceBook, TokenUsage, cost_cents
from aos_cost_intel.models import outbox
from aos_cost_intel.prices.service import book_for_version
from aos_cost_intel.records import repository
from aos_cost_intel.records.schemas import RepriceRequest, RepriceResult

CHUNK_SIZE = 5_000
"""Records read, priced and updated per round; the window is never held in memory whole."""
Change = tuple[datetime, str, Decimal]


def _utc(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class _Tally:
    """What a reprice found so far, summed over the chunks it has read."""

    def __init__(self) -> None:
        self.repriced = self.unchanged = self.skipped = self.client = 0
        self.previous = self.new_total = ZERO


def _changes(rows: Sequence[asyncpg.Record], book: PriceBook, tally: _Tally) -> list[Change]:
    """The (occurred_at, id, new cost) of each row of a chunk whose derived cost changes."""
    changes = []
    for row in rows:
        if row["cost_source"] == "client":
            tally.client += 1
            continue
        price = book.find(row["model"], row["occurred_at"])
        if price is None:
            tally.skipped += 1
            continue
        usage = TokenUsage(
            input_tokens=row["input_tokens"],
            cache_read_input_tokens=row["cache_read_input_tokens"],
            cache_creation_input_tokens=row["cache_creation_input_tokens"],
            output_tokens=row["output_tokens"],
            reasoning_output_tokens=row["reasoning_output_tokens"],
        )
        cost = cost_cents(usage, price)
        if cost == row["cost_cents"] and row["price_version"] == book.version:
            tally.unchanged += 1
            continue
        tally.previous = EXACT.add(tally.previous, row["cost_cents"])
        tally.new_total = EXACT.add(tally.new_total, cost)
        changes.append((row["occurred_at"], row["id"], cost))
    tally.repriced += len(changes)
    return changes


async def reprice(
    session: AsyncSession,
    tenant_id: str,
    body: RepriceRequest,
    actor: Principal,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> RepriceResult:
    """Reprice the window a chunk of `chunk_size` records at a time (all in one transaction),
    so memory stays flat however many records the window holds."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    start, end = _utc(body.from_), _utc(body.to)
    if end <= start:
        raise BadRequest("'to' must be after 'from'")
    book = await book_for_version(session, body.price_version)
    conn = await driver_connection(session)
    tally = _Tally()
    after: tuple[datetime, str] | None = None
    while True:
        rows = await repository.records_in_window(
            conn, tenant_id, start, end, limit=chunk_size, after=after
        )
        if not rows:
            break
        await repository.update_costs(conn, tenant_id, _changes(rows, book, tally), book.version)
        if len(rows) < chunk_size:
            break
        after = (rows[-1]["occurred_at"], rows[-1]["id"])
    if tally.repriced:
        hour_end = floor_hour(end) + (
            timedelta(hours=1) if end != floor_hour(end) else timedelta(0)
        )
        last_day = (end - timedelta(microseconds=1)).date()
        await repository.rebuild_rollups(
            conn, tenant_id, floor_hour(start), hour_end, start.date(), last_day
        )
    previous, new_total = tally.previous, tally.new_total
    counts = {
        "repriced_count": tally.repriced,
        "unchanged_count": tally.unchanged,
        "skipped_count": tally.skipped,
        "client_priced_count": tally.client,
    }
    entry_id = await enqueue_audit_entry(
        session,
        outbox,
        tenant_id=tenant_id,
        event_type="CostRepriced",
        entity_type="PRICE_BOOK",
        entity_id=book.version,
        actor=actor,
        action_reason=f"Reprice under price version {book.version}",
        before_state={"total_cost_cents": plain(previous)},
        after_state={
            "total_cost_cents": plain(new_total),
            "price_version": book.version,
            "from": start.isoformat(),
            "to": end.isoformat(),
            **counts,
        },
    )
    return RepriceResult.model_validate(
        {
            "from": start,
            "to": end,
            "price_version": book.version,
            "previous_total_cents": previous,
            "new_total_cents": new_total,
            "audit_entry_id": entry_id,
            **counts,
        }
    )
