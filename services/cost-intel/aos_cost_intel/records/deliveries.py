"""Cost records one at a time (the single public and internal routes) and delivered by peers'
outboxes in batches (the traces service's OTLP ingestion).

Each message is judged on its own: one the service can never store (invalid, a model without a
price, a moment out of bounds) is refused alone, and the others of the batch are stored in the
same transaction, grouped by tenant. A message is exactly-once per request id, else per outbox
message id, as on the single internal route.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired, cast

from pydantic import Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.errors import ProblemError
from aos_common.outbox_batch import result, validate_each
from aos_cost_intel.domain.pricing import PriceBook
from aos_cost_intel.prices.service import PriceBookCache
from aos_cost_intel.records.schemas import CostRecordCreate, CostRecordIn, RecordResult
from aos_cost_intel.records.service import Outcome, occurred_ats, prices_of, record_costs
from aos_cost_intel.reservations.service import record_against


class DeliveredCostRecord(CostRecordIn):
    """A cost record as a peer's outbox sends it: the tenant named, `id` the message id."""

    tenant_id: Annotated[str, Field(min_length=1, max_length=64)]
    id: NotRequired[Annotated[str, Field(max_length=128)] | None]


DELIVERED = TypeAdapter(DeliveredCostRecord)


def _problem(item: CostRecordIn, book: PriceBook | None, now: datetime) -> str | None:
    """Why the record can never be stored, or None: the checks `record_costs` would fail the
    whole call on, made for one record."""
    try:
        moments = occurred_ats([item], now)
        prices_of([item], moments, book)
    except ProblemError as error:
        return error.detail
    return None


async def record_delivered(
    session: AsyncSession, messages: Sequence[dict[str, Any]], prices: PriceBookCache
) -> list[dict[str, Any]]:
    """Store the storable messages; one answer per message (aos_common.outbox_batch)."""
    valid, answers = validate_each(messages, DELIVERED)
    book = None
    if any(item.get("cost_cents") is None for _, item in valid):
        book = await prices.current(session)
    now = datetime.now(UTC)
    by_tenant: dict[str, list[tuple[int, CostRecordIn]]] = {}
    for index, item in valid:
        problem = _problem(item, book, now)
        if problem is not None:
            answers.append(result(index, messages[index], "refused", problem))
            continue
        record = cast(CostRecordIn, {k: v for k, v in item.items() if k not in ("tenant_id", "id")})
        if not record.get("request_id") and item.get("id"):
            record["request_id"] = f"outbox:{item['id']}"
        by_tenant.setdefault(item["tenant_id"], []).append((index, record))
    for tenant, entries in by_tenant.items():
        plain = [(i, record) for i, record in entries if not record.get("reservation_id")]
        outcomes = await record_costs(session, tenant, [record for _, record in plain], prices)
        for (index, _), outcome in zip(plain, outcomes, strict=True):
            answers.append(result(index, messages[index], _status(outcome)))
        for index, record in entries:
            if record.get("reservation_id"):
                outcome = await record_against(session, tenant, record, prices)
                answers.append(result(index, messages[index], _status(outcome)))
    return answers


def _status(outcome: Outcome) -> Literal["stored", "duplicate"]:
    return "duplicate" if outcome.duplicate else "stored"


def to_result(outcome: Outcome) -> RecordResult:
    return RecordResult(
        id=outcome.id,
        cost_cents=outcome.cost_cents,
        price_version=outcome.price_version,
        duplicate=outcome.duplicate,
    )


async def record_one(
    session: AsyncSession,
    tenant: str,
    item: CostRecordCreate,
    prices: PriceBookCache,
    *,
    key_id: str | None = None,
) -> Outcome:
    """One record, as the single public and internal routes take it: a record naming a
    reservation settles it. `key_id`: the API key that made the record, whose budget it counts
    toward."""
    record = cast(CostRecordIn, item.model_dump())
    if record.get("reservation_id"):
        return await record_against(session, tenant, record, prices, key_id=key_id)
    [outcome] = await record_costs(session, tenant, [record], prices, key_id=key_id)
    return outcome
