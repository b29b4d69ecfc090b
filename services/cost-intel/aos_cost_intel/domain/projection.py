"""Spend projection and trend, as pure functions over daily totals.

A *daily point* is a UTC day of the lookback window on which the tenant recorded spend; the
current daily average is the mean of those points. Trend: fewer than 4 points is `stable`;
otherwise the mean of the second half of the points against the first half (the middle point
of an odd count belongs to the second half): > 1.2x `increasing`, < 0.8x `decreasing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from aos_cost_intel.domain.money import EXACT, ZERO, divide, exact_sum

MIN_TREND_POINTS = 4
INCREASING_RATIO = Fraction(6, 5)
DECREASING_RATIO = Fraction(4, 5)
DAYS_PER_MONTH = 30
DAYS_QUANTUM = Decimal("0.01")


@dataclass(frozen=True)
class Projection:
    current_daily_avg_cents: Decimal
    projected_total_cents: Decimal
    monthly_projection_cents: Decimal
    days_until_budget_exhausted: Decimal | None
    trend: str


def trend(points: Sequence[Decimal]) -> str:
    if len(points) < MIN_TREND_POINTS:
        return "stable"
    middle = len(points) // 2
    first, second = points[:middle], points[middle:]
    first_mean = Fraction(exact_sum(first)) / len(first)
    second_mean = Fraction(exact_sum(second)) / len(second)
    if first_mean == 0:
        return "increasing" if second_mean > 0 else "stable"
    if second_mean > INCREASING_RATIO * first_mean:
        return "increasing"
    if second_mean < DECREASING_RATIO * first_mean:
        return "decreasing"
    return "stable"


def days_until_exhausted(
    budget_cents: Decimal | None, spent_cents: Decimal, daily_rate: Decimal
) -> Decimal | None:
    """Days until `budget_cents` is used up at `daily_rate`; 0 when already used; None when
    there is no budget or nothing is being spent."""
    if budget_cents is None:
        return None
    remaining = EXACT.subtract(budget_cents, spent_cents)
    if remaining <= 0:
        return ZERO.quantize(DAYS_QUANTUM)
    if daily_rate <= 0:
        return None
    return divide(remaining, daily_rate, DAYS_QUANTUM)


def project(
    points: Sequence[Decimal],
    forecast_days: int,
    budget_cents: Decimal | None,
    month_to_date_cents: Decimal,
) -> Projection:
    average = (
        divide(exact_sum(points), Decimal(len(points)))
        if points
        else ZERO.quantize(Decimal("0.0001"))
    )
    return Projection(
        current_daily_avg_cents=average,
        projected_total_cents=EXACT.multiply(average, Decimal(forecast_days)),
        monthly_projection_cents=EXACT.multiply(average, Decimal(DAYS_PER_MONTH)),
        days_until_budget_exhausted=days_until_exhausted(
            budget_cents, month_to_date_cents, average
        ),
        trend=trend(points),
    )
