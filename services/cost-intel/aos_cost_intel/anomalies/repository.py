"""SQL for anomalies and the daily activity series the detector reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_common.ids import new_id
from aos_cost_intel.anomalies.schemas import CostAnomalyRead
from aos_cost_intel.domain.detector import Finding
from aos_cost_intel.models import SCHEMA, Anomaly

LOCK_NAMESPACE = "cost-intel:detect:"


def _read(row: Anomaly) -> CostAnomalyRead:
    return CostAnomalyRead.model_validate(row, from_attributes=True)


async def lock_tenant(session: AsyncSession, tenant_id: str, *, wait: bool) -> bool:
    """Take the tenant's detection lock for this transaction (several instances, one detector)."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    statement = text(f"SELECT {function}(hashtextextended(:key, 0))")
    result = (await session.execute(statement, {"key": LOCK_NAMESPACE + tenant_id})).scalar()
    return True if wait else bool(result)


async def insert_findings(
    session: AsyncSession, tenant_id: str, findings: Sequence[Finding], now: datetime
) -> list[CostAnomalyRead]:
    """Store findings; one anomaly per (type, entity, day): known ones are not stored again."""
    created = []
    for finding in findings:
        statement = (
            insert(Anomaly)
            .values(
                tenant_id=tenant_id,
                id=new_id("ca_"),
                anomaly_type=finding.anomaly_type.value,
                severity=finding.severity.value,
                entity_type=finding.entity_type,
                entity_id=finding.entity_id,
                day=finding.day,
                current_value_cents=finding.current_value_cents,
                expected_value_cents=finding.expected_value_cents,
                deviation_pct=finding.deviation_pct,
                message=finding.message,
                derived_cause=finding.derived_cause.value,
                resolved=False,
                detected_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "anomaly_type", "entity_type", "entity_id", "day"]
            )
            .returning(Anomaly)
        )
        row = (await session.execute(statement)).scalar_one_or_none()
        if row is not None:
            created.append(_read(row))
    return created


async def mark_escalated(
    session: AsyncSession, tenant_id: str, anomaly_id: str, incident_id: str, action_taken: str
) -> CostAnomalyRead:
    statement = (
        update(Anomaly)
        .where(Anomaly.tenant_id == tenant_id, Anomaly.id == anomaly_id)
        .values(incident_id=incident_id, action_taken=action_taken)
        .returning(Anomaly)
    )
    return _read((await session.execute(statement)).scalar_one())


async def list_recent(
    session: AsyncSession, tenant_id: str, since: datetime, include_resolved: bool
) -> list[CostAnomalyRead]:
    statement = (
        tenant_scoped(select(Anomaly), Anomaly.tenant_id, tenant_id)
        .where(Anomaly.detected_at >= since)
        .order_by(Anomaly.detected_at.desc(), Anomaly.id)
        .limit(1000)
    )
    if not include_resolved:
        statement = statement.where(Anomaly.resolved.is_(False))
    return [_read(row) for row in (await session.scalars(statement)).all()]


async def open_since(
    session: AsyncSession, tenant_id: str, since: datetime
) -> list[CostAnomalyRead]:
    return await list_recent(session, tenant_id, since, include_resolved=False)


async def resolve(
    session: AsyncSession, tenant_id: str, anomaly_id: str, by: str, now: datetime
) -> CostAnomalyRead | None:
    current = (
        await session.scalars(
            tenant_scoped(select(Anomaly), Anomaly.tenant_id, tenant_id).where(
                Anomaly.id == anomaly_id
            )
        )
    ).one_or_none()
    if current is None:
        return None
    if current.resolved:
        return _read(current)
    statement = (
        update(Anomaly)
        .where(Anomaly.tenant_id == tenant_id, Anomaly.id == anomaly_id)
        .values(resolved=True, resolved_at=now, resolved_by=by)
        .returning(Anomaly)
    )
    return _read((await session.execute(statement)).scalar_one())


async def daily_activity(
    conn: asyncpg.Connection, tenant_id: str, first_day: date
) -> list[asyncpg.Record]:
    """Per day: the tenant's, each feature's, each user's and each user-feature pair's activity."""
    return list(
        await conn.fetch(
            f"""
            SELECT GROUPING(feature_tag) AS g_feature, GROUPING(user_id) AS g_user,
                   day, feature_tag, user_id, sum(cost_cents) AS cost, sum(request_count) AS requests,
                   sum(input_tokens + cache_read_input_tokens + cache_creation_input_tokens) AS prompt
            FROM {SCHEMA}.cost_rollups_daily
            WHERE tenant_id = $1 AND day >= $2
            GROUP BY GROUPING SETS ((day), (feature_tag, day), (user_id, day), (user_id, feature_tag, day))
            """,
            tenant_id,
            first_day,
        )
    )


async def busy_workflows(
    conn: asyncpg.Connection, tenant_id: str, since: datetime, minimum: int
) -> list[asyncpg.Record]:
    """Workflows with at least `minimum` requests on a day, per tenant, user and feature."""
    return list(
        await conn.fetch(
            f"""
            SELECT GROUPING(user_id) AS g_user, GROUPING(feature_tag) AS g_feature,
                   day, workflow_id, user_id, feature_tag, count(*) AS requests
            FROM (
                SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, workflow_id, user_id, feature_tag
                FROM {SCHEMA}.cost_records
                WHERE tenant_id = $1 AND occurred_at >= $2 AND workflow_id IS NOT NULL
            ) AS calls
            GROUP BY GROUPING SETS ((day, workflow_id), (day, workflow_id, user_id),
                                    (day, workflow_id, feature_tag))
            HAVING count(*) >= $3
            """,
            tenant_id,
            since,
            minimum,
        )
    )


async def active_tenants(conn: asyncpg.Connection, since: date) -> list[str]:
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT tenant_id FROM {SCHEMA}.cost_rollups_daily WHERE day >= $1
        UNION SELECT DISTINCT tenant_id FROM {SCHEMA}.budgets WHERE is_active
        ORDER BY 1
        """,
        since,
    )
    return [row["tenant_id"] for row in rows]
