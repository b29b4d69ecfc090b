from decimal import Decimal

import pytest

from aos_cost_intel.domain.projection import days_until_exhausted, project, trend


def points(*values: int) -> list[Decimal]:
    return [Decimal(v) for v in values]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((), "stable"),
        ((100, 500, 900), "stable"),
        ((100, 100, 200, 200), "increasing"),
        ((200, 200, 100, 100), "decreasing"),
        ((100, 100, 120, 120), "stable"),
        ((100, 100, 121, 121), "increasing"),
        ((100, 100, 80, 80), "stable"),
        ((100, 100, 79, 79), "decreasing"),
        ((100, 100, 100, 130, 130), "stable"),
        ((100, 100, 150, 150, 150), "increasing"),
        ((0, 0, 5, 5), "increasing"),
    ],
)
def test_trend_rules(values: tuple[int, ...], expected: str) -> None:
    assert trend(points(*values)) == expected


def test_projection_scales_the_daily_average() -> None:
    result = project(
        points(100, 200), forecast_days=7, budget_cents=None, month_to_date_cents=Decimal(0)
    )
    assert result.current_daily_avg_cents == Decimal("150")
    assert result.projected_total_cents == Decimal("1050")
    assert result.monthly_projection_cents == Decimal("4500")
    assert result.days_until_budget_exhausted is None
    assert result.trend == "stable"


def test_projection_without_spend_is_zero() -> None:
    result = project([], forecast_days=7, budget_cents=Decimal(100), month_to_date_cents=Decimal(0))
    assert result.current_daily_avg_cents == 0
    assert result.days_until_budget_exhausted is None


def test_days_until_exhausted() -> None:
    assert days_until_exhausted(Decimal(1000), Decimal(400), Decimal(150)) == Decimal("4.00")
    assert days_until_exhausted(Decimal(1000), Decimal(1000), Decimal(150)) == 0
    assert days_until_exhausted(None, Decimal(0), Decimal(1)) is None
