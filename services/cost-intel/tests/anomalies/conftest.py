"""Constructed histories through the API: flat daily spend, then whatever the test adds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest

History = Callable[..., Awaitable[None]]


@pytest.fixture
def seed_history(client: httpx.AsyncClient, admin: dict[str, str]) -> History:
    """Post daily records: `flat` cents per day for `days` days, overridden per day offset."""

    async def seed(
        *,
        days: int = 20,
        flat: int = 100,
        by_offset: dict[int, int] | None = None,
        requests_per_day: int = 2,
        user_id: str = "alice",
        headers: dict[str, str] | None = None,
    ) -> None:
        today = datetime.now(UTC).date()
        records = []
        for offset in range(-days + 1, 1):
            cost = (by_offset or {}).get(offset, flat)
            day = today + timedelta(days=offset)
            moment = datetime.combine(day, time(0, 30), tzinfo=UTC)
            moment = min(moment, datetime.now(UTC) - timedelta(seconds=5))
            per_request = cost / requests_per_day
            records += [
                {
                    "model": "m",
                    "cost_cents": str(per_request),
                    "user_id": user_id,
                    "occurred_at": moment.isoformat(),
                }
                for _ in range(requests_per_day)
            ]
        response = await client.post(
            "/api/v1/cost/records/batch", json={"records": records}, headers=headers or admin
        )
        assert response.status_code == 201, response.text

    return seed
