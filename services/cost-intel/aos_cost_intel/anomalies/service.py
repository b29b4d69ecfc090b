"""Detection that acts: find anomalies, store each once, escalate the HIGH ones.

Escalation queues a `LimitBreached` audit entry through the outbox (same transaction) and, when
AOS_ALERT_WEBHOOK is set, POSTs the anomaly there once the transaction has committed (a webhook
is never told about an anomaly that was rolled back).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.auth import Principal
from aos_common.db import driver_connection, on_commit
from aos_common.errors import NotFound
from aos_common.ids import new_id
from aos_cost_intel.anomalies import repository
from aos_cost_intel.anomalies.schemas import (
    CostAnomalyRead,
    DetectResult,
    EscalationRead,
    anomaly_payload,
)
from aos_cost_intel.budgets import repository as budgets_repository
from aos_cost_intel.budgets.service import spend_of
from aos_cost_intel.domain.budgets import evaluate_budget
from aos_cost_intel.domain.causes import RETRY_MIN_REQUESTS
from aos_cost_intel.domain.detector import (
    HISTORY_DAYS,
    WINDOW_DAYS,
    Finding,
    detect_spend_anomalies,
)
from aos_cost_intel.domain.history import DayStats, EntityHistory
from aos_cost_intel.domain.kinds import AnomalyType, Severity
from aos_cost_intel.models import outbox
from aos_cost_intel.reports.repository import midnight

logger = logging.getLogger("aos.cost_intel.anomalies")
ANONYMOUS = "anonymous"


async def load_histories(
    session: AsyncSession, tenant_id: str, today: date
) -> tuple[EntityHistory, dict[tuple[str, str], EntityHistory]]:
    """The tenant's history and every feature's and user's, from daily rollups (plus the busiest
    workflow per day of the last week, from the records)."""
    conn = await driver_connection(session)
    rows = await repository.daily_activity(conn, tenant_id, today - timedelta(days=HISTORY_DAYS))
    busy = await repository.busy_workflows(
        conn, tenant_id, midnight(today - timedelta(days=WINDOW_DAYS - 1)), RETRY_MIN_REQUESTS
    )
    top: dict[tuple[str, str, date], int] = defaultdict(int)
    for row in busy:
        if row["g_user"] == 1 and row["g_feature"] == 1:
            key = ("tenant", tenant_id, row["day"])
        elif row["g_user"] == 0:
            key = ("user", row["user_id"] or ANONYMOUS, row["day"])
        else:
            key = ("feature", row["feature_tag"], row["day"])
        top[key] = max(top[key], int(row["requests"]))
    days: dict[tuple[str, str], dict[date, DayStats]] = defaultdict(dict)
    user_features: dict[str, dict[str, dict[date, Decimal]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    tenant_features: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for row in rows:
        day = row["day"]
        if row["g_feature"] == 0 and row["g_user"] == 0:
            user_features[row["user_id"] or ANONYMOUS][row["feature_tag"]][day] = row["cost"]
            continue
        if row["g_feature"] == 1 and row["g_user"] == 1:
            entity = ("tenant", tenant_id)
        elif row["g_feature"] == 0:
            entity = ("feature", row["feature_tag"])
            tenant_features[row["feature_tag"]][day] = row["cost"]
        else:
            entity = ("user", row["user_id"] or ANONYMOUS)
        days[entity][day] = DayStats(
            cost_cents=row["cost"],
            requests=int(row["requests"]),
            input_tokens=int(row["prompt"]),
            top_workflow_requests=top.get((entity[0], entity[1], day), 0),
        )
    histories = {
        entity: EntityHistory(
            entity[0],
            entity[1],
            series,
            user_features.get(entity[1], {}) if entity[0] == "user" else {},
        )
        for entity, series in days.items()
        if entity[0] != "tenant"
    }
    tenant = EntityHistory(
        "tenant", tenant_id, days.get(("tenant", tenant_id), {}), tenant_features
    )
    return tenant, histories


async def find_anomalies(
    session: AsyncSession, tenant_id: str, today: date
) -> tuple[list[Finding], dict[tuple[str, str, str, date], tuple[str, str]]]:
    """Spend anomalies and budget findings; the map names the budget (id, period) behind each
    budget finding."""
    tenant, others = await load_histories(session, tenant_id, today)
    findings = detect_spend_anomalies(tenant, list(others.values()), today)
    budget_of: dict[tuple[str, str, str, date], tuple[str, str]] = {}
    for budget in await budgets_repository.list_budgets(session, tenant_id):
        if not budget.is_active:
            continue
        state = await spend_of(session, tenant_id, budget, today)
        history = (
            tenant
            if budget.budget_type == "tenant"
            else others.get((budget.budget_type, budget.entity_id or ""))
        )
        finding = evaluate_budget(state, tenant_id, today, history)
        if finding is not None:
            findings.append(finding)
            period = "monthly" if finding.message.startswith("Monthly") else "daily"
            budget_of[finding.key] = (budget.id, period)
    return findings, budget_of


async def detect(
    session: AsyncSession,
    tenant_id: str,
    *,
    escalate: bool,
    actor: Principal | None,
    webhook_url: str | None,
    webhook_timeout: float = 5.0,
    wait_for_lock: bool = True,
) -> DetectResult | None:
    """Run detection for a tenant under its advisory lock; None when another instance holds it
    (only when `wait_for_lock` is False)."""
    if not await repository.lock_tenant(session, tenant_id, wait=wait_for_lock):
        return None
    now = datetime.now(UTC)
    findings, budget_of = await find_anomalies(session, tenant_id, now.date())
    created = await repository.insert_findings(session, tenant_id, findings, now)
    for anomaly in created:
        budget = budget_of.get(
            (anomaly.anomaly_type, anomaly.entity_type, anomaly.entity_id, anomaly.day)
        )
        if budget is not None:
            await budgets_repository.record_breach(
                session,
                tenant_id,
                budget_id=budget[0],
                anomaly_id=anomaly.id,
                kind=f"{budget[1]}_{'exceeded' if anomaly.anomaly_type == AnomalyType.BUDGET_EXCEEDED else 'warning'}",
                limit_cents=anomaly.expected_value_cents,
                spend_cents=anomaly.current_value_cents,
                day=anomaly.day,
            )
    escalations: list[EscalationRead] = []
    final = list(created)
    if escalate:
        for index, anomaly in enumerate(created):
            if anomaly.severity != Severity.HIGH:
                continue
            final[index], escalation = await escalate_anomaly(session, anomaly, actor, webhook_url)
            escalations.append(escalation)
        if webhook_url and escalations:
            to_send = [a for a in final if a.incident_id]
            on_commit(
                session, lambda: post_webhook(webhook_url, tenant_id, to_send, webhook_timeout)
            )
    return DetectResult(
        detected_count=len(final),
        escalated_count=len(escalations),
        anomalies=final,
        escalated=escalations,
    )


async def escalate_anomaly(
    session: AsyncSession,
    anomaly: CostAnomalyRead,
    actor: Principal | None,
    webhook_url: str | None,
) -> tuple[CostAnomalyRead, EscalationRead]:
    incident_id = new_id("inc_")
    # The escalation opens an incident; the entry is that incident's, the anomaly is in its state.
    entry_id = await enqueue_audit_entry(
        session,
        outbox,
        tenant_id=anomaly.tenant_id,
        event_type="LimitBreached",
        entity_type="INCIDENT",
        entity_id=incident_id,
        actor=actor,
        action_reason=anomaly.message,
        before_state=None,
        after_state={**anomaly_payload(anomaly), "incident_id": incident_id},
    )
    action = f"Escalated as incident {incident_id}: LimitBreached audit entry {entry_id}"
    if webhook_url:
        action += "; alert webhook notified"
    updated = await repository.mark_escalated(
        session, anomaly.tenant_id, anomaly.id, incident_id, action
    )
    return updated, EscalationRead(
        anomaly_id=anomaly.id,
        incident_id=incident_id,
        audit_entry_id=entry_id,
        webhook="scheduled" if webhook_url else "not_configured",
    )


async def post_webhook(
    url: str, tenant_id: str, anomalies: Sequence[CostAnomalyRead], timeout_seconds: float
) -> None:
    """Best effort: a webhook that is down is logged, never fails detection."""
    body = {
        "event": "cost.anomaly.escalated",
        "tenant_id": tenant_id,
        "anomalies": [anomaly_payload(a) for a in anomalies],
    }
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds) as client:
            response = await client.post(url, json=body)
        if response.status_code >= 300:
            logger.warning("alert webhook answered %s", response.status_code)
    except httpx.HTTPError as error:
        logger.warning("alert webhook unreachable: %s", error)


async def list_anomalies(
    session: AsyncSession, tenant_id: str, days: int, include_resolved: bool
) -> list[CostAnomalyRead]:
    since = datetime.now(UTC) - timedelta(days=days)
    return await repository.list_recent(session, tenant_id, since, include_resolved)


async def resolve(
    session: AsyncSession, tenant_id: str, anomaly_id: str, by: str
) -> CostAnomalyRead:
    resolved = await repository.resolve(session, tenant_id, anomaly_id, by, datetime.now(UTC))
    if resolved is None:
        raise NotFound(f"Anomaly {anomaly_id} not found")
    return resolved
