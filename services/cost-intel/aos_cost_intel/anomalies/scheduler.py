"""The scheduled detector: every instance runs it; a per-tenant advisory lock (try, never wait)
makes sure only one instance detects a given tenant at a time."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from aos_common.db import driver_connection, session_scope
from aos_common.periodic import ticking
from aos_cost_intel.anomalies import repository
from aos_cost_intel.anomalies.service import detect
from aos_cost_intel.domain.detector import HISTORY_DAYS
from aos_cost_intel.state import cost_intel_state

logger = logging.getLogger("aos.cost_intel.scheduler")


@dataclass
class SweepResult:
    tenants: list[str] = field(default_factory=list)
    detected: int = 0
    escalated: int = 0
    skipped_locked: list[str] = field(default_factory=list)


async def sweep(app: FastAPI) -> SweepResult:
    """One detection pass over every tenant with recent spend or a budget."""
    state = cost_intel_state(app)
    settings = state.settings
    result = SweepResult()
    async for session in session_scope(state.sessionmaker):
        conn = await driver_connection(session)
        since = datetime.now(UTC).date() - timedelta(days=HISTORY_DAYS)
        result.tenants = await repository.active_tenants(conn, since)
    for tenant_id in result.tenants:
        try:
            async for session in session_scope(state.sessionmaker):
                outcome = await detect(
                    session,
                    tenant_id,
                    escalate=True,
                    actor=None,
                    webhook_url=settings.alert_webhook,
                    webhook_timeout=settings.webhook_timeout_seconds,
                    wait_for_lock=False,
                )
                if outcome is None:
                    result.skipped_locked.append(tenant_id)
                else:
                    result.detected += outcome.detected_count
                    result.escalated += outcome.escalated_count
        except Exception:
            logger.exception("scheduled detection failed for tenant %s", tenant_id)
    relay = state.outbox_relay
    if relay is not None and result.escalated:
        relay.kick()
    return result


def scheduled_detector(app: FastAPI) -> AbstractAsyncContextManager[None]:
    interval = cost_intel_state(app).settings.detector_interval_seconds
    return ticking("cost-anomaly-detection", interval, lambda: sweep(app), logger=logger)
