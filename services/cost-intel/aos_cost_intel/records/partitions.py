"""The monthly partitions of `cost_records`, created ahead of time at start-up (a lifespan hook), so
no record ever waits for one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

from fastapi import FastAPI
from sqlalchemy import text

from aos_cost_intel.models import SCHEMA
from aos_cost_intel.state import cost_intel_state

logger = logging.getLogger("aos.cost_intel")
MONTHS_AHEAD = 3


def _month(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, 1)


async def ensure_partitions(app: FastAPI, today: date | None = None) -> list[str]:
    """Create the monthly cost_records partitions from last month to three months ahead."""
    today = today or datetime.now(UTC).date()
    created = []
    for offset in range(-1, MONTHS_AHEAD + 1):
        start = _month(today.year, today.month + offset)
        end = _month(start.year, start.month + 1)
        name = f"cost_records_y{start.year}m{start.month:02d}"
        statement = text(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{name} PARTITION OF {SCHEMA}.cost_records "
            f"FOR VALUES FROM ('{start.isoformat()}T00:00:00+00:00') "
            f"TO ('{end.isoformat()}T00:00:00+00:00')"
        )
        try:
            async with cost_intel_state(app).engine.begin() as connection:
                await connection.execute(statement)
            created.append(name)
        except Exception as error:
            logger.warning("could not create partition %s: %s", name, error)
    return created


@asynccontextmanager
async def partitions(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: last month's to three months ahead's partitions exist before any request."""
    await ensure_partitions(app)
    yield
