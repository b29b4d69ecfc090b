"""Pure helpers for breakdown panels: shares of the total and the per-user outlier flag."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from aos_cost_intel.domain.money import EXACT, ZERO, divide, exact_sum, percentage

USER_ANOMALY_FACTOR = Decimal(2)


def pct_of_total(cost: Decimal, total: Decimal) -> Decimal:
    share = percentage(cost, total)
    return share if share is not None else ZERO.quantize(Decimal("0.01"))


def user_outliers(costs: Sequence[Decimal]) -> list[str | None]:
    """For each user's cost: 'Spending X.Xx average' when above 2x the mean per-user cost."""
    if not costs:
        return []
    total = exact_sum(costs)
    if not total:
        return [None] * len(costs)
    messages: list[str | None] = []
    for cost in costs:
        # cost > 2 * total / n  <=>  cost * n > 2 * total, compared exactly
        if EXACT.multiply(cost, Decimal(len(costs))) > EXACT.multiply(total, USER_ANOMALY_FACTOR):
            ratio = divide(EXACT.multiply(cost, Decimal(len(costs))), total, Decimal("0.1"))
            messages.append(f"Spending {ratio}x average")
        else:
            messages.append(None)
    return messages
