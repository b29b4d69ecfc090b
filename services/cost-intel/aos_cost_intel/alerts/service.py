"""Budget alerts: each budget's thresholds (default 50 / 80 / 100 % of a limit) fire once per
threshold and period window — an audit entry (BudgetThresholdReached) and, when the tenant has a
webhook, a signed delivery queued in the same transaction (sent by `relay`).

Alerts follow recorded spend (holds are not spend yet). They are evaluated by a sweep every
`AOS_ALERT_INTERVAL_SECONDS` (every way a cost is recorded — record routes, spans, settled
reservations — is covered alike) and right after a reservation is settled.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.db import driver_connection
from aos_common.ids import new_id
from aos_cost_intel.alerts import repository
from aos_cost_intel.alerts.schemas import WebhookRead, WebhookSet
from aos_cost_intel.budgets import repository as budgets_repository
from aos_cost_intel.budgets.service import spends_of
from aos_cost_intel.domain.budgets import BudgetSpend, used_fraction, used_pct
from aos_cost_intel.domain.money import plain
from aos_cost_intel.models import outbox

EVENT = "budget.threshold_reached"
PERIOD_NAMES = {"Daily": "daily", "Weekly": "weekly", "Monthly": "monthly"}


def window_start(period: str, today: date) -> date:
    if period == "daily":
        return today
    if period == "weekly":
        return budgets_repository.week_start(today)
    return today.replace(day=1)


async def evaluate_tenant(session: AsyncSession, tenant_id: str) -> list[dict[str, Any]]:
    """Fire every threshold of the tenant's active budgets that spend has reached and that has
    not fired in this period window; returns the alerts fired."""
    conn = await driver_connection(session)
    now = datetime.now(UTC)
    budgets = await budgets_repository.list_budgets(session, tenant_id)
    states = await spends_of(session, tenant_id, [b for b in budgets if b.is_active], now.date())
    webhook = await repository.webhook_of(conn, tenant_id)
    fired = []
    for state in states:
        for alert in crossed(state, tenant_id, now):
            if await repository.record_alert(conn, **_alert_row(alert, now)):
                await _announce(session, conn, alert, webhook, now)
                fired.append(alert)
    return fired


def crossed(state: BudgetSpend, tenant_id: str, now: datetime) -> list[dict[str, Any]]:
    """The alerts `state` has reached (each threshold of each limit), as webhook payloads."""
    budget = state.budget
    alerts = []
    for period_name, limit, spend in state.limits():
        period = PERIOD_NAMES[period_name]
        used = used_fraction(spend, limit)
        for threshold in budget.alert_thresholds:
            if used * 100 >= threshold:
                alerts.append(
                    {
                        "event": EVENT,
                        "tenant_id": tenant_id,
                        "budget_id": budget.id,
                        "budget_type": budget.budget_type,
                        "entity_id": budget.entity_id,
                        "period": period,
                        "window_start": window_start(period, now.date()).isoformat(),
                        "threshold_pct": threshold,
                        "spend_cents": plain(spend),
                        "limit_cents": plain(limit),
                        "used_pct": float(used_pct(spend, limit)),
                        "hard_limit": budget.hard_limit_enabled,
                    }
                )
    return alerts


def _alert_row(alert: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": alert["tenant_id"],
        "budget_id": alert["budget_id"],
        "period": alert["period"],
        "window_start": date.fromisoformat(alert["window_start"]),
        "threshold": alert["threshold_pct"],
        "spend": Decimal(alert["spend_cents"]),
        "limit": Decimal(alert["limit_cents"]),
        "now": now,
    }


async def _announce(
    session: AsyncSession,
    conn: Any,
    alert: dict[str, Any],
    webhook: Any,
    now: datetime,
) -> None:
    tenant_id = alert["tenant_id"]
    subject = alert["entity_id"] or tenant_id
    reason = (
        f"{alert['period']} {alert['budget_type']} budget {alert['budget_id']} ({subject}) "
        f"reached {alert['threshold_pct']}%: {alert['spend_cents']} of "
        f"{alert['limit_cents']} cents"
    )
    await enqueue_audit_entry(
        session,
        outbox,
        tenant_id=tenant_id,
        event_type="BudgetThresholdReached",
        entity_type="LIMIT",
        entity_id=alert["budget_id"],
        actor=None,
        action_reason=reason,
        after_state=alert,
    )
    if webhook is None:
        return
    delivery_id = new_id("whd_")
    body = {"id": delivery_id, **alert, "message": reason, "occurred_at": now.isoformat()}
    await repository.enqueue_delivery(
        conn,
        tenant_id=tenant_id,
        delivery_id=delivery_id,
        event=EVENT,
        url=webhook["url"],
        body=orjson.dumps(body).decode(),
        now=now,
    )


async def set_webhook(session: AsyncSession, tenant_id: str, body: WebhookSet) -> WebhookRead:
    conn = await driver_connection(session)
    secret = body.secret or "whsec_" + secrets.token_hex(24)
    row = await repository.set_webhook(conn, tenant_id, str(body.url), secret, datetime.now(UTC))
    return WebhookRead(url=row["url"], updated_at=row["updated_at"], secret=row["secret"])


async def get_webhook(session: AsyncSession, tenant_id: str) -> WebhookRead | None:
    row = await repository.webhook_of(await driver_connection(session), tenant_id)
    return None if row is None else WebhookRead(url=row["url"], updated_at=row["updated_at"])
