"""SQL for budget alerts, the tenant webhook and webhook deliveries (asyncpg)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg

from aos_common.db import fetch_page, status_page
from aos_cost_intel.models import SCHEMA


async def tenants_with_budgets(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(f"SELECT DISTINCT tenant_id FROM {SCHEMA}.budgets WHERE is_active")
    return [row["tenant_id"] for row in rows]


async def record_alert(
    conn: asyncpg.Connection,
    *,
    tenant_id: str,
    budget_id: str,
    period: str,
    window_start: date,
    threshold: int,
    spend: Decimal,
    limit: Decimal,
    now: datetime,
) -> bool:
    """True when this (budget, period window, threshold) had not fired yet."""
    inserted = await conn.fetchval(
        f"""
        INSERT INTO {SCHEMA}.budget_alerts
            (tenant_id, budget_id, period, window_start, threshold, spend_cents, limit_cents,
             fired_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        tenant_id,
        budget_id,
        period,
        window_start,
        threshold,
        spend,
        limit,
        now,
    )
    return bool(inserted)


async def list_alerts(
    conn: asyncpg.Connection, tenant_id: str, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        conn,
        f"""
        SELECT *, count(*) OVER () AS total FROM {SCHEMA}.budget_alerts WHERE tenant_id = $1
        ORDER BY fired_at DESC, budget_id, threshold LIMIT $2 OFFSET $3
        """,
        tenant_id,
        limit,
        offset,
    )


async def webhook_of(conn: asyncpg.Connection, tenant_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT url, secret, updated_at FROM {SCHEMA}.alert_webhooks WHERE tenant_id = $1",
        tenant_id,
    )


async def set_webhook(
    conn: asyncpg.Connection, tenant_id: str, url: str, secret: str, now: datetime
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""
        INSERT INTO {SCHEMA}.alert_webhooks (tenant_id, url, secret, updated_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (tenant_id) DO UPDATE SET url = $2, secret = $3, updated_at = $4
        RETURNING url, secret, updated_at
        """,
        tenant_id,
        url,
        secret,
        now,
    )


async def enqueue_delivery(
    conn: asyncpg.Connection,
    *,
    tenant_id: str,
    delivery_id: str,
    event: str,
    url: str,
    body: str,
    now: datetime,
) -> None:
    await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.webhook_deliveries
            (tenant_id, id, event, url, body, status, attempts, next_attempt_at, created_at)
        VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)
        """,
        tenant_id,
        delivery_id,
        event,
        url,
        body,
        now,
    )


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Due pending deliveries, locked; ones another instance is sending are skipped."""
    return await conn.fetch(
        f"""
        SELECT d.tenant_id, d.id, d.event, d.url, d.body, d.attempts, w.secret
        FROM {SCHEMA}.webhook_deliveries d
        LEFT JOIN {SCHEMA}.alert_webhooks w ON w.tenant_id = d.tenant_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= $1
        ORDER BY d.next_attempt_at
        LIMIT $2
        FOR UPDATE OF d SKIP LOCKED
        """,
        now,
        limit,
    )


async def settle_delivery(
    conn: asyncpg.Connection,
    tenant_id: str,
    delivery_id: str,
    *,
    status: str,
    attempts: int,
    next_attempt_at: datetime,
    last_status: int | None,
    last_error: str | None,
    delivered_at: datetime | None,
) -> None:
    await conn.execute(
        f"""
        UPDATE {SCHEMA}.webhook_deliveries
        SET status = $3, attempts = $4, next_attempt_at = $5, last_status = $6,
            last_error = $7, delivered_at = $8
        WHERE tenant_id = $1 AND id = $2
        """,
        tenant_id,
        delivery_id,
        status,
        attempts,
        next_attempt_at,
        last_status,
        last_error,
        delivered_at,
    )


async def list_deliveries(
    conn: asyncpg.Connection, tenant_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    table = f"{SCHEMA}.webhook_deliveries"
    return await status_page(conn, table, "*", tenant_id, status, limit, offset)
