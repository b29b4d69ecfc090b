"""Repricing: recompute derived costs of a window under another price version (audited).

Client-sent costs are never touched; records whose model has no price in that version keep their
cost. Rollups of every hour and day the window touches are rebuilt from the records, in the same
transaction, so reports stay exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.auth import Principal
from aos_common.errors import BadRequest
from aos_cost_intel.engines.money import EXACT, ZERO, plain
from aos_cost_intel.engines.periods import floor_hour
from aos_cost_intel.engines.pricing import TokenUsage, cost_cents
from aos_cost_intel.models import outbox
from aos_cost_intel.prices.service import book_for_version
from aos_cost_intel.records import repository
from aos_cost_intel.records.schemas import RepriceRequest, RepriceResult


def _utc(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


async def reprice(
    session: AsyncSession, tenant_id: str, body: RepriceRequest, actor: Principal
) -> RepriceResult:
    start, end = _utc(body.from_), _utc(body.to)
    if end <= start:
        raise BadRequest("'to' must be after 'from'")
    book = await book_for_version(session, body.price_version)
    conn = await repository.driver(session)
    rows = await repository.records_in_window(conn, tenant_id, start, end)
    changes = []
    unchanged = skipped = client = 0
    previous = new_total = ZERO
    for row in rows:
        if row["cost_source"] == "client":
            client += 1
            continue
        price = book.find(row["model"], row["occurred_at"])
        if price is None:
            skipped += 1
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
            unchanged += 1
            continue
        previous = EXACT.add(previous, row["cost_cents"])
        new_total = EXACT.add(new_total, cost)
        changes.append((row["occurred_at"], row["id"], cost))
    if changes:
        await repository.update_costs(conn, tenant_id, changes, book.version)
        hour_end = floor_hour(end) + (
            timedelta(hours=1) if end != floor_hour(end) else timedelta(0)
        )
        last_day = (end - timedelta(microseconds=1)).date()
        await repository.rebuild_rollups(
            conn, tenant_id, floor_hour(start), hour_end, start.date(), last_day
        )
    counts = {
        "repriced_count": len(changes),
        "unchanged_count": unchanged,
        "skipped_count": skipped,
        "client_priced_count": client,
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
