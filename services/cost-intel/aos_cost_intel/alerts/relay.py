"""Sending queued webhook deliveries, and the two scheduled jobs of alerts (evaluation, sending).

Each delivery is signed at each attempt (fresh timestamp), sent with a timeout, and on failure
(connection error, timeout, any non-2xx answer) tried again after a backoff that doubles from
`AOS_WEBHOOK_BACKOFF_SECONDS` (capped at 5 minutes) until `AOS_WEBHOOK_MAX_ATTEMPTS`, then marked
failed. Deliveries are sent concurrently and each is scheduled on its own, so a failing receiver
never holds back another tenant's alerts (nor anything else: the sends run outside requests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from aos_common.db import driver_connection, session_scope
from aos_common.periodic import ticking
from aos_cost_intel.alerts import repository
from aos_cost_intel.alerts.service import evaluate_tenant
from aos_cost_intel.alerts.signing import SIGNATURE_HEADER, signature_header
from aos_cost_intel.state import cost_intel_state

logger = logging.getLogger("aos.cost_intel.alerts")
MAX_BACKOFF = timedelta(minutes=5)
BATCH = 50


def backoff(attempts: int, base_seconds: float) -> timedelta:
    return min(timedelta(seconds=base_seconds * 2 ** (attempts - 1)), MAX_BACKOFF)


async def _send(http: httpx.AsyncClient, row: Any, seconds: float) -> tuple[int | None, str | None]:
    """(HTTP status, error) of one attempt; error None means delivered."""
    body = row["body"].encode()
    headers = {
        "Content-Type": "application/json",
        "X-AOS-Event": row["event"],
        "X-AOS-Delivery": row["id"],
        SIGNATURE_HEADER: signature_header(row["secret"] or "", body),
    }
    try:
        response = await http.post(row["url"], content=body, headers=headers, timeout=seconds)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


async def deliver_due(app: FastAPI) -> int:
    """One pass over due deliveries; returns how many were attempted."""
    state = cost_intel_state(app)
    settings = state.settings
    http = state.webhook_http
    attempted = 0
    async for session in session_scope(state.sessionmaker):
        conn = await driver_connection(session)
        rows = await repository.claim_due(conn, datetime.now(UTC), BATCH)
        results = await asyncio.gather(
            *(_send(http, row, settings.webhook_timeout_seconds) for row in rows)
        )
        now = datetime.now(UTC)
        for row, (status, error) in zip(rows, results, strict=True):
            attempts = row["attempts"] + 1
            if error is None:
                outcome, next_at = "delivered", now
            elif attempts >= settings.webhook_max_attempts:
                outcome, next_at = "failed", now
                logger.warning(
                    "webhook %s failed after %d attempts: %s", row["id"], attempts, error
                )
            else:
                outcome = "pending"
                next_at = now + backoff(attempts, settings.webhook_backoff_seconds)
            await repository.settle_delivery(
                conn,
                row["tenant_id"],
                row["id"],
                status=outcome,
                attempts=attempts,
                next_attempt_at=next_at,
                last_status=status,
                last_error=error,
                delivered_at=now if error is None else None,
            )
        attempted = len(rows)
    return attempted


async def evaluate_all(app: FastAPI) -> int:
    """Evaluate every tenant with an active budget (one transaction each); alerts fired."""
    state = cost_intel_state(app)
    async for session in session_scope(state.sessionmaker):
        tenants = await repository.tenants_with_budgets(await driver_connection(session))
    fired = 0
    for tenant_id in tenants:
        try:
            async for session in session_scope(state.sessionmaker):
                fired += len(await evaluate_tenant(session, tenant_id))
        except Exception:
            logger.exception("budget alert evaluation failed for tenant %s", tenant_id)
    relay = state.outbox_relay
    if relay is not None and fired:
        relay.kick()
    return fired


@asynccontextmanager
async def alert_jobs(app: FastAPI) -> AsyncIterator[None]:
    state = cost_intel_state(app)
    settings = state.settings
    state.webhook_http = httpx.AsyncClient(follow_redirects=False)
    try:
        async with (
            ticking(
                "budget-alerts",
                settings.alert_interval_seconds,
                lambda: evaluate_all(app),
                logger=logger,
            ),
            ticking(
                "webhook-deliveries",
                settings.webhook_interval_seconds,
                lambda: deliver_due(app),
                logger=logger,
            ),
        ):
            yield
    finally:
        await state.webhook_http.aclose()
