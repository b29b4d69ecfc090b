"""Constructed daily histories for detector tests (a fixture: tests dirs are not importable)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from aos_cost_intel.domain.history import DayStats, EntityHistory

TODAY = date(2026, 3, 20)


def history(
    costs_by_offset: dict[int, int | str],
    *,
    base_cost: int | str = 100,
    base_requests: int = 10,
    requests_by_offset: dict[int, int] | None = None,
    tokens_per_request: int = 1_000,
    tokens_by_offset: dict[int, int] | None = None,
    top_workflow_by_offset: dict[int, int] | None = None,
    days: int = 60,
    entity_type: str = "tenant",
    entity_id: str = "tnt_test",
    feature_costs: dict[str, dict[int, int]] | None = None,
    today: date = TODAY,
) -> EntityHistory:
    """`days` days of `base_cost` cents ending today, overridden per day offset (0 = today)."""
    series: dict[date, DayStats] = {}
    for offset in range(-days + 1, 1):
        requests = (requests_by_offset or {}).get(offset, base_requests)
        per_request = (tokens_by_offset or {}).get(offset, tokens_per_request)
        series[today + timedelta(days=offset)] = DayStats(
            cost_cents=Decimal(str(costs_by_offset.get(offset, base_cost))),
            requests=requests,
            input_tokens=requests * per_request,
            top_workflow_requests=(top_workflow_by_offset or {}).get(offset, 1),
        )
    features = {
        name: {today + timedelta(days=offset): Decimal(cost) for offset, cost in by_offset.items()}
        for name, by_offset in (feature_costs or {}).items()
    }
    return EntityHistory(entity_type, entity_id, series, features)


@pytest.fixture
def make_history() -> Callable[..., EntityHistory]:
    return history
