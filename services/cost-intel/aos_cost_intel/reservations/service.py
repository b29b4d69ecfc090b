"""Reservations: authorize, settle, release and expire holds on hard budgets.

THE INVARIANT: for every hard budget that applies to a call (the tenant's, the call's feature,
its user, its API key), at every moment `recorded spend in the window + active holds <= limit`.

How it holds: Postgres row locks on the budget rows, taken only by reservations, in one fixed
order ((tenant, budget id)). Reservations are decided by one statement (the `reserve_holds`
function, migrations 0008 and 0010) on a connection outside any transaction, shared by the
reservations one worker was asked for at about the same time (group commit,
reservations/batcher.py): it locks every applicable hard budget row of the batch once
(`ORDER BY tenant_id, id FOR UPDATE`), takes the held amount from the locked row minus the holds
taken off since (`budget_hold_releases`, which it deletes and folds into the row), then reads the
recorded spend of each window from the rollups, and decides each reservation in arrival order
against the running held amounts: it refuses (402) or adds its amount to `budgets.held_cents` and
inserts its reservation row. The locks end with the statement's commit, so no client round trip
ever happens inside them, and a contended budget pays one lock and one commit per batch.
Settling locks the reservation, records the cost (rollups in the same transaction), charges the
API key and takes the hold off by inserting a release row (`close_holds`): spend moves from "held"
to "recorded" in one commit, and no budget row is locked, so settles never hold reservations
back. A reserve reads the held amount (row, then releases) before the spend: a settle committing
in between is seen as both hold and charge, never neither — transiently conservative, never
over. Releases and the expiry sweep take holds off the same way; settles and releases of a
tenant are group committed too (reservations/closing.py).

Why Postgres and not a Redis script: a hold must survive a crash of cost-intel and of Redis, so it
is a Postgres row whatever counts it; recorded spend is already in Postgres, written in the
settling transaction. With the counters in the same transactions as the facts they count there is
nothing to rebuild after a restart or a Redis flush and no window in which the two disagree (a
Redis counter would be written before or after the Postgres commit, and a crash between the two
either forgets a hold or doubles a charge until a rebuild). Redis being down does not stop
reservations at all. The price is throughput on one contended budget: reservations against the
same budget queue on its row lock (measured in bench/reservations.py, docs/PERFORMANCE.md);
reservations against distinct budgets do not wait for each other.

Costs recorded without a reservation (the record routes, spans) are facts of work already done:
they count as recorded spend from the moment they commit, and the invariant protects the budget
against everything that asks first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common import domain_metrics
from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.auth import Principal
from aos_common.db import driver_connection
from aos_common.errors import Conflict, NotFound, PaymentRequired
from aos_common.ids import new_id
from aos_cost_intel.anomalies.repository import insert_findings
from aos_cost_intel.budgets import repository as budgets_repository
from aos_cost_intel.budgets.service import spends_of
from aos_cost_intel.domain.budgets import remaining_allowance
from aos_cost_intel.domain.detector import Finding, deviation
from aos_cost_intel.domain.kinds import AnomalyType, Cause, Severity
from aos_cost_intel.domain.money import EXACT, ZERO, plain
from aos_cost_intel.features.service import classify
from aos_cost_intel.models import outbox
from aos_cost_intel.prices.service import PriceBookCache
from aos_cost_intel.records.schemas import CostRecordCreate, CostRecordIn, RecordResult
from aos_cost_intel.records.service import Outcome, record_costs, total_of
from aos_cost_intel.reservations import repository
from aos_cost_intel.reservations.batcher import HoldRequest, ReserveBatcher
from aos_cost_intel.reservations.schemas import (
    BudgetHold,
    ReservationCreate,
    ReservationRead,
    SettleRead,
    SettleRequest,
)

UNSPECIFIED_MODEL = "unspecified"
FOLD_IDLE_RELEASES_AFTER = timedelta(seconds=10)
"""Releases the expiry sweep folds into their budget: those no reservation folded in this long
(a busy budget's reservations fold them first, so the sweep never competes for its row)."""


def to_read(row: asyncpg.Record, holds: list[BudgetHold]) -> ReservationRead:
    return ReservationRead(
        id=row["id"],
        tenant_id=row["tenant_id"],
        status=row["status"],
        held_cents=row["held_cents"],
        charged_cents=row["charged_cents"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        closed_at=row["closed_at"],
        user_id=row["user_id"],
        feature_tag=row["feature_tag"],
        model=row["model"],
        run_id=row["run_id"],
        api_key_id=row["api_key_id"],
        budgets=holds,
    )


async def reserve(
    session: AsyncSession | None,
    batcher: ReserveBatcher,
    tenant_id: str,
    body: ReservationCreate,
    principal: Principal,
) -> ReservationRead:
    """Hold `estimated_cost_cents` on every applicable hard budget, or refuse with 402.

    The check and the hold are one statement on a connection of the reservation pool, outside the
    request's transaction and committed when it ends, shared with the other reservations this
    worker was asked for meanwhile (reservations/batcher.py): the budget rows are locked only
    while Postgres runs it. `session` classifies the feature tag (None when there is none)."""
    tag = None
    if body.feature_tag:
        assert session is not None, "a feature tag is classified on the request's session"
        [tag] = await classify(session, tenant_id, [body.feature_tag])
    amount = body.estimated_cost_cents
    request = HoldRequest(
        tenant_id=tenant_id,
        reservation_id=new_id("res_"),
        amount=amount,
        wanted=budgets_repository.applicable_keys(tag, body.user_id, principal.key_id),
        ttl_seconds=body.ttl_seconds,
        user_id=body.user_id,
        feature_tag=body.feature_tag,
        model=body.model,
        run_id=body.run_id,
        api_key_id=principal.key_id,
    )
    answer = await batcher.hold(request)
    refusal = answer.refusal
    if refusal is not None:
        domain_metrics.BUDGET_REFUSALS.labels("cost-intel", "reservation").inc()
        budget_id, remaining = refusal["r_budget"], refusal["r_remaining"]
        raise PaymentRequired(
            f"Budget would be exceeded: {budget_id} ({refusal['r_period']} limit, "
            f"{plain(remaining)} cents remaining, {plain(amount)} requested)",
            extra={"budget_id": budget_id, "remaining_cents": plain(remaining)},
        )
    return ReservationRead(
        id=request.reservation_id,
        tenant_id=tenant_id,
        status="held",
        held_cents=amount,
        charged_cents=None,
        expires_at=answer.expires_at,
        created_at=answer.created_at,
        closed_at=None,
        user_id=body.user_id,
        feature_tag=body.feature_tag,
        model=body.model,
        run_id=body.run_id,
        api_key_id=principal.key_id,
        budgets=[
            BudgetHold(budget_id=row["r_budget"], remaining_cents=row["r_remaining"])
            for row in answer.rows
        ],
    )


def _closed(row: asyncpg.Record, action: str) -> Conflict:
    """409 for a reservation that is no longer held, saying what happened to it."""
    rid, closed = row["id"], row["closed_at"]
    when = closed.isoformat() if closed else ""
    if row["status"] == "settled":
        return Conflict(
            f"Reservation {rid} was already settled at {when} "
            f"(charged {plain(row['charged_cents'])} cents); it cannot be {action} again"
        )
    if row["status"] == "expired":
        return Conflict(
            f"Reservation {rid} expired at {row['expires_at'].isoformat()} and its hold was "
            f"released; it can no longer be {action}"
        )
    return Conflict(
        f"Reservation {rid} was released at {when} without a charge; it can no longer be {action}"
    )


def settle_items(row: asyncpg.Record, body: SettleRequest) -> list[CostRecordIn]:
    """The records to store: the caller's, with the reservation's user and feature where they
    name none, or one record of the actual cost."""
    defaults = {"user_id": row["user_id"], "feature_tag": row["feature_tag"]}
    if body.records is not None:
        items = []
        for record in body.records:
            item = record.model_dump()
            for name, value in defaults.items():
                if item.get(name) is None:
                    item[name] = value
            items.append(cast(CostRecordIn, item))
        return items
    item = {
        **defaults,
        "model": row["model"] or UNSPECIFIED_MODEL,
        "cost_cents": body.actual_cost_cents,
        "request_id": f"reservation:{row['id']}",
    }
    return [cast(CostRecordIn, item)]


async def report_overshoot(
    session: AsyncSession, row: asyncpg.Record, charged: Decimal, now: datetime
) -> str | None:
    """The RESERVATION_OVERSHOOT anomaly's id when `charged` is above the hold, else None."""
    held: Decimal = row["held_cents"]
    if charged <= held:
        return None
    over = EXACT.subtract(charged, held)
    finding = Finding(
        anomaly_type=AnomalyType.RESERVATION_OVERSHOOT,
        severity=Severity.MEDIUM,
        entity_type="reservation",
        entity_id=row["id"],
        day=now.date(),
        current_value_cents=charged,
        expected_value_cents=held,
        deviation_pct=deviation(charged, held),
        message=(
            f"Reservation {row['id']} settled at {plain(charged)} cents, {plain(over)} over its "
            f"hold of {plain(held)} cents: the work cost more than was authorized (recorded in "
            "full; the budgets it held may now be over their limits)"
        ),
        derived_cause=Cause.ESTIMATE_TOO_LOW,
    )
    created = await insert_findings(session, row["tenant_id"], [finding], now)
    return created[0].id if created else None


def check_settleable(row: asyncpg.Record | None, now: datetime) -> asyncpg.Record:
    """The reservation if it can be settled now: 404 unknown, 409 closed or past its expiry."""
    if row is None:
        raise NotFound("Reservation not found")
    if row["status"] != "held":
        raise _closed(row, "settled")
    if row["expires_at"] <= now:
        raise Conflict(
            f"Reservation {row['id']} expired at {row['expires_at'].isoformat()} and its "
            "hold is being released; it can no longer be settled"
        )
    return row


def check_releasable(row: asyncpg.Record | None) -> asyncpg.Record:
    """The reservation if it can be released: 404 unknown, 409 already closed."""
    if row is None:
        raise NotFound("Reservation not found")
    if row["status"] != "held":
        raise _closed(row, "released")
    return row


async def settle(
    session: AsyncSession,
    tenant_id: str,
    reservation_id: str,
    body: SettleRequest,
    prices: PriceBookCache,
) -> SettleRead:
    """Record the actual cost (in full, even above the hold) and take the hold off, in the
    caller's transaction (a span's record settling its reservation; the settle route goes
    through the worker's batcher, reservations/closing.py, which does the same for many).

    The hold is taken off by the last statement (`close_holds`) as a release row: no budget row
    is locked (migration 0010)."""
    conn = await driver_connection(session)
    now = datetime.now(UTC)
    row = check_settleable(await repository.find(conn, tenant_id, reservation_id, lock=True), now)
    outcomes = await record_costs(
        session, tenant_id, settle_items(row, body), prices, field_prefix="records."
    )
    charged = total_of(outcomes)
    anomaly_id = await report_overshoot(session, row, charged, now)
    holds = await repository.close_holds(conn, tenant_id, [(row["id"], "settled", charged)], now)
    return settled_read(row, outcomes, charged, now, holds[row["id"]], anomaly_id)


def settled_read(
    row: asyncpg.Record,
    outcomes: Sequence[Outcome],
    charged: Decimal,
    now: datetime,
    holds: list[asyncpg.Record],
    anomaly_id: str | None,
) -> SettleRead:
    base = closed_read(row, "settled", charged, now, holds)
    return SettleRead(
        **base.model_dump(),
        records=[
            RecordResult(
                id=o.id,
                cost_cents=o.cost_cents,
                price_version=o.price_version,
                duplicate=o.duplicate,
            )
            for o in outcomes
        ],
        overshoot_cents=max(EXACT.subtract(charged, row["held_cents"]), ZERO),
        anomaly_id=anomaly_id,
    )


def closed_read(
    row: asyncpg.Record,
    status: str,
    charged: Decimal | None,
    now: datetime,
    holds: list[asyncpg.Record],
) -> ReservationRead:
    """The reservation `row` (read before closing) as `close_holds` left it."""
    budgets = [BudgetHold(budget_id=h["r_budget"], remaining_cents=h["r_remaining"]) for h in holds]
    read = to_read(row, budgets)
    return read.model_copy(update={"status": status, "charged_cents": charged, "closed_at": now})


async def expire_due(session: AsyncSession, limit: int = 500) -> list[str]:
    """Release held reservations past their expiry (each audited as ReservationExpired).

    The audit entries are queued first; then each tenant's expired holds are taken off by one
    `close_holds` statement (release rows, no budget lock), tenants in order. Last, the pending
    releases of budgets no reservation has touched since are folded into them
    (`repository.fold_releases`, skipping budgets a reservation batch holds, never waiting)."""
    conn = await driver_connection(session)
    now = datetime.now(UTC)
    rows = await repository.lock_expired(conn, now, limit)
    by_tenant: dict[str, list[tuple[str, str, Decimal | None]]] = {}
    for row in rows:
        by_tenant.setdefault(row["tenant_id"], []).append((row["id"], "expired", None))
        await enqueue_audit_entry(
            session,
            outbox,
            tenant_id=row["tenant_id"],
            event_type="ReservationExpired",
            entity_type="RESERVATION",
            entity_id=row["id"],
            actor=None,
            action_reason=(
                f"hold of {plain(row['held_cents'])} cents not settled by its expiry "
                f"{row['expires_at'].isoformat()}; released without a charge"
            ),
            before_state=_audit_state(row),
            after_state={**_audit_state(row), "status": "expired"},
        )
    for tenant_id in sorted(by_tenant):
        await repository.close_holds(conn, tenant_id, by_tenant[tenant_id], now)
    await repository.fold_releases(conn, limit, now - FOLD_IDLE_RELEASES_AFTER)
    return [row["id"] for row in rows]


def _audit_state(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "status": row["status"],
        "held_cents": plain(row["held_cents"]),
        "budget_ids": list(row["budget_ids"]),
        "expires_at": row["expires_at"].isoformat(),
    }


async def remaining_holds(
    session: AsyncSession, tenant_id: str, budget_ids: list[str]
) -> list[BudgetHold]:
    """Each budget's tightest remaining allowance now (recorded spend and holds deducted)."""
    if not budget_ids:
        return []
    conn = await driver_connection(session)
    rows = await budgets_repository.find_by_ids(conn, tenant_id, budget_ids)
    budgets = [budgets_repository.limits_of_record(row) for row in rows]
    states = await spends_of(session, tenant_id, budgets, datetime.now(UTC).date())
    remaining = remaining_allowance(states)
    return [BudgetHold(budget_id=b.id, remaining_cents=remaining[b.id]) for b in budgets]


async def get(session: AsyncSession, tenant_id: str, reservation_id: str) -> ReservationRead:
    conn = await driver_connection(session)
    row = await repository.find(conn, tenant_id, reservation_id)
    if row is None:
        raise NotFound("Reservation not found")
    return to_read(row, await remaining_holds(session, tenant_id, list(row["budget_ids"])))


async def record_against(
    session: AsyncSession,
    tenant_id: str,
    item: CostRecordIn,
    prices: PriceBookCache,
    *,
    key_id: str | None = None,
) -> Outcome:
    """A cost record naming a reservation (`reservation_id`, e.g. from a span's
    `aos.reservation_id`): settles the reservation with it while it is held (charging the key
    the reservation was made with); otherwise (settled, released, expired, unknown) the record
    is stored as any other, since the work was done, and charged to `key_id` if any."""
    record = cast(CostRecordIn, {k: v for k, v in item.items() if k != "reservation_id"})
    reservation_id = item.get("reservation_id")
    conn = await driver_connection(session)
    row = None
    if reservation_id:
        row = await repository.find(conn, tenant_id, reservation_id, lock=True)
    if row is None or row["status"] != "held" or row["expires_at"] <= datetime.now(UTC):
        [outcome] = await record_costs(session, tenant_id, [record], prices, key_id=key_id)
        return outcome
    body = SettleRequest(records=[CostRecordCreate.model_validate(record)])
    settled = await settle(session, tenant_id, row["id"], body, prices)
    [result] = settled.records
    return Outcome(result.id, result.cost_cents, result.price_version, result.duplicate)
