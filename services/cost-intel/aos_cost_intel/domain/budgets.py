"""Budget evaluation (warning / exceeded findings) and the hard-limit guard, as pure functions.

A budget applies to the tenant, to one feature tag or to one user, with an optional daily and an
optional monthly limit (UTC day, UTC calendar month). Spend is what was recorded so far in that
day or month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from aos_cost_intel.domain.causes import derive_cause, window_stats
from aos_cost_intel.domain.detector import SPIKE_BASELINE, Finding, deviation
from aos_cost_intel.domain.history import EntityHistory, days_back
from aos_cost_intel.domain.kinds import AnomalyType, Cause, Severity
from aos_cost_intel.domain.money import EXACT, ZERO, percentage, plain

HIGH_WARNING_PCT = 90


@dataclass(frozen=True)
class Budget:
    id: str
    budget_type: str
    entity_id: str | None
    daily_limit_cents: Decimal | None
    monthly_limit_cents: Decimal | None
    warn_threshold_pct: int
    hard_limit_enabled: bool
    is_active: bool = True
    weekly_limit_cents: Decimal | None = None
    held_cents: Decimal = ZERO
    on_unavailable: str | None = None
    alert_thresholds: tuple[int, ...] = (50, 80, 100)

    @property
    def unavailable_policy(self) -> str:
        """What a caller does when this budget's guard cannot be asked: the budget's own
        setting, else deny for a hard budget (never a silent fail-open) and allow for a soft one."""
        if self.on_unavailable is not None:
            return self.on_unavailable
        return "deny" if self.hard_limit_enabled else "allow"


@dataclass(frozen=True)
class BudgetSpend:
    budget: Budget
    daily_spend_cents: Decimal
    monthly_spend_cents: Decimal
    weekly_spend_cents: Decimal = ZERO

    def limits(self) -> list[tuple[str, Decimal, Decimal]]:
        """(period name, limit, spend) for each limit the budget sets, shortest first."""
        result = []
        budget = self.budget
        if budget.daily_limit_cents is not None:
            result.append(("Daily", budget.daily_limit_cents, self.daily_spend_cents))
        if budget.weekly_limit_cents is not None:
            result.append(("Weekly", budget.weekly_limit_cents, self.weekly_spend_cents))
        if budget.monthly_limit_cents is not None:
            result.append(("Monthly", budget.monthly_limit_cents, self.monthly_spend_cents))
        return result


@dataclass(frozen=True)
class GuardDecision:
    allowed: bool
    reason: str
    budget_id: str | None = None
    remaining_cents: Decimal | None = None


def used_fraction(spend: Decimal, limit: Decimal) -> Fraction:
    """Exact share of a limit used (thresholds compare this, never a rounded percentage); a
    zero limit counts as fully used once anything is spent."""
    if limit == 0:
        return Fraction(1) if spend > 0 else Fraction(0)
    return Fraction(spend) / Fraction(limit)


def used_pct(spend: Decimal, limit: Decimal) -> Decimal:
    """Percent of a limit used, to two places, for display."""
    if limit == 0:
        return Decimal(100) if spend > 0 else ZERO
    pct = percentage(spend, limit)
    return pct if pct is not None else ZERO


def entity_label(budget: Budget, tenant_id: str) -> tuple[str, str]:
    entity_id = budget.entity_id if budget.budget_type != "tenant" else tenant_id
    return budget.budget_type, entity_id or tenant_id


def evaluate_budget(
    state: BudgetSpend, tenant_id: str, today: date, history: EntityHistory | None = None
) -> Finding | None:
    """BUDGET_EXCEEDED (HIGH) at >= 100 % of a limit; BUDGET_WARNING at >= warn_threshold_pct
    (HIGH from 90 %, MEDIUM below). With both limits set, the fuller one is reported."""
    budget = state.budget
    if not budget.is_active:
        return None
    worst: tuple[Fraction, str, Decimal, Decimal] | None = None
    for period, limit, spend in state.limits():
        used = used_fraction(spend, limit)
        if worst is None or used > worst[0]:
            worst = (used, period, limit, spend)
    if worst is None:
        return None
    used, period, limit, spend = worst
    if used >= 1:
        anomaly_type, severity, verb = AnomalyType.BUDGET_EXCEEDED, Severity.HIGH, "exceeded"
    elif used * 100 >= budget.warn_threshold_pct:
        anomaly_type = AnomalyType.BUDGET_WARNING
        severity = Severity.HIGH if used * 100 >= HIGH_WARNING_PCT else Severity.MEDIUM
        verb = "nearly used"
    else:
        return None
    pct = used_pct(spend, limit)
    entity_type, entity_id = entity_label(budget, tenant_id)
    cause = Cause.UNKNOWN
    if history is not None:
        cause = derive_cause(
            history,
            window_stats(history, [today]),
            window_stats(history, days_back(today, *SPIKE_BASELINE)),
        )
    return Finding(
        anomaly_type=anomaly_type,
        severity=severity,
        entity_type=entity_type,
        entity_id=entity_id,
        day=today,
        current_value_cents=spend,
        expected_value_cents=limit,
        deviation_pct=deviation(spend, limit),
        message=(
            f"{period} budget {budget.id} for {entity_type} '{entity_id}' {verb}: "
            f"{plain(pct)}% used ({plain(spend)} of {plain(limit)} cents)"
        ),
        derived_cause=cause,
    )


def guard(states: Sequence[BudgetSpend], estimated_cost_cents: Decimal) -> GuardDecision:
    """Refuse when a hard limit is exhausted or would be exceeded by the estimated cost; active
    holds count as spent. This is a check only: two calls may both pass it and both spend, which
    is why hard limits are enforced by reservations (reservations/service.py).

    `states` are the budgets that apply to the call (the tenant's, the feature's, the user's),
    in that order; the first refusing limit names the reason. Soft budgets never refuse.
    """
    tightest: tuple[Decimal, str] | None = None
    for state in states:
        if not (state.budget.hard_limit_enabled and state.budget.is_active):
            continue
        for _period, limit, recorded in state.limits():
            spend = EXACT.add(recorded, state.budget.held_cents)
            remaining = max(EXACT.subtract(limit, spend), ZERO)
            if spend >= limit:
                return GuardDecision(
                    False, f"Budget exhausted: {state.budget.id}", state.budget.id, remaining
                )
            if EXACT.add(spend, estimated_cost_cents) > limit:
                return GuardDecision(
                    False,
                    f"Budget would be exceeded: {state.budget.id}",
                    state.budget.id,
                    remaining,
                )
            if tightest is None or remaining < tightest[0]:
                tightest = (remaining, state.budget.id)
    if tightest is None:
        return GuardDecision(True, "No hard budget applies")
    return GuardDecision(True, "Within budget", tightest[1], tightest[0])


def remaining_allowance(states: Sequence[BudgetSpend]) -> dict[str, Decimal]:
    """Per budget, the tightest of `limit - recorded - held` over its periods (never negative)."""
    remaining: dict[str, Decimal] = {}
    for state in states:
        for _period, limit, spend in state.limits():
            left = max(EXACT.subtract(limit, EXACT.add(spend, state.budget.held_cents)), ZERO)
            if state.budget.id not in remaining or left < remaining[state.budget.id]:
                remaining[state.budget.id] = left
        remaining.setdefault(state.budget.id, ZERO)
    return remaining
