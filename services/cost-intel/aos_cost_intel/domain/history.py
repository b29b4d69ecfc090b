"""Daily activity series of one entity (tenant, feature or user): the detector's input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from aos_cost_intel.domain.money import ZERO


@dataclass(frozen=True)
class DayStats:
    """One entity's activity on one UTC day.

    `input_tokens` counts every prompt-side token (input, cache read, cache creation);
    `top_workflow_requests` is the request count of that day's busiest workflow.
    """

    cost_cents: Decimal = ZERO
    requests: int = 0
    input_tokens: int = 0
    top_workflow_requests: int = 0


EMPTY_DAY = DayStats()


@dataclass(frozen=True)
class EntityHistory:
    """Daily activity of one entity; `feature_costs` breaks a tenant's or user's spend down."""

    entity_type: str
    entity_id: str
    days: Mapping[date, DayStats]
    feature_costs: Mapping[str, Mapping[date, Decimal]] = field(default_factory=dict)

    @property
    def first_day(self) -> date | None:
        """The first day with recorded activity: days before it are not history, they are nothing."""
        active = [day for day, stats in self.days.items() if stats.requests or stats.cost_cents]
        return min(active) if active else None

    def covers(self, day: date) -> bool:
        """Whether the history reaches back to `day` (a baseline starting there is meaningful)."""
        first = self.first_day
        return first is not None and first <= day

    def stats(self, day: date) -> DayStats:
        return self.days.get(day, EMPTY_DAY)

    def cost(self, day: date) -> Decimal:
        return self.stats(day).cost_cents


def days_back(day: date, start: int, end: int) -> list[date]:
    """Days day-start ... day-end (start >= end), oldest first."""
    return [day - timedelta(days=offset) for offset in range(start, end - 1, -1)]
