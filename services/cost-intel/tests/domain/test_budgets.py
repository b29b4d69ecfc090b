from datetime import date
from decimal import Decimal

import pytest

from aos_cost_intel.domain.budgets import Budget, BudgetSpend, evaluate_budget, guard
from aos_cost_intel.domain.kinds import AnomalyType, Severity

TODAY = date(2026, 3, 20)


def budget(
    *,
    daily: int | None = 1000,
    monthly: int | None = None,
    warn: int = 80,
    hard: bool = False,
    budget_type: str = "tenant",
    entity_id: str | None = None,
    budget_id: str = "cb_0000000000000001",
) -> Budget:
    return Budget(
        id=budget_id,
        budget_type=budget_type,
        entity_id=entity_id,
        daily_limit_cents=None if daily is None else Decimal(daily),
        monthly_limit_cents=None if monthly is None else Decimal(monthly),
        warn_threshold_pct=warn,
        hard_limit_enabled=hard,
    )


def spend(b: Budget, daily: str = "0", monthly: str = "0") -> BudgetSpend:
    return BudgetSpend(b, Decimal(daily), Decimal(monthly))


@pytest.mark.parametrize(
    ("daily_spend", "expected"),
    [
        ("799.99", None),
        ("800", (AnomalyType.BUDGET_WARNING, Severity.MEDIUM)),
        ("899.99", (AnomalyType.BUDGET_WARNING, Severity.MEDIUM)),
        ("900", (AnomalyType.BUDGET_WARNING, Severity.HIGH)),
        ("999.99", (AnomalyType.BUDGET_WARNING, Severity.HIGH)),
        ("1000", (AnomalyType.BUDGET_EXCEEDED, Severity.HIGH)),
        ("5000", (AnomalyType.BUDGET_EXCEEDED, Severity.HIGH)),
    ],
)
def test_budget_findings_follow_the_thresholds(daily_spend: str, expected: object) -> None:
    finding = evaluate_budget(spend(budget(), daily=daily_spend), "tnt_a", TODAY)
    got = None if finding is None else (finding.anomaly_type, finding.severity)
    assert got == expected


def test_the_fuller_of_daily_and_monthly_limits_is_reported() -> None:
    finding = evaluate_budget(
        spend(budget(daily=1000, monthly=10_000), daily="100", monthly="9500"), "tnt_a", TODAY
    )
    assert finding is not None
    assert finding.anomaly_type is AnomalyType.BUDGET_WARNING
    assert finding.expected_value_cents == 10_000
    assert finding.message.startswith("Monthly budget cb_0000000000000001 for tenant 'tnt_a'")


def test_a_user_budget_names_the_user() -> None:
    finding = evaluate_budget(
        spend(budget(budget_type="user", entity_id="alice"), daily="1200"), "tnt_a", TODAY
    )
    assert finding is not None
    assert (finding.entity_type, finding.entity_id, finding.day) == ("user", "alice", TODAY)


def test_an_inactive_budget_finds_nothing() -> None:
    inactive = Budget(**{**budget().__dict__, "is_active": False})
    assert evaluate_budget(spend(inactive, daily="5000"), "tnt_a", TODAY) is None


def test_soft_budgets_never_refuse() -> None:
    decision = guard([spend(budget(), daily="5000")], Decimal(10))
    assert decision.allowed
    assert decision.reason == "No hard budget applies"


def test_an_exhausted_hard_budget_refuses_even_a_free_call() -> None:
    decision = guard([spend(budget(hard=True), daily="1000")], Decimal(0))
    assert not decision.allowed
    assert decision.reason == "Budget exhausted: cb_0000000000000001"
    assert decision.remaining_cents == 0


def test_a_call_that_would_exceed_a_hard_budget_is_refused() -> None:
    decision = guard([spend(budget(hard=True), daily="900")], Decimal("100.01"))
    assert not decision.allowed
    assert decision.reason == "Budget would be exceeded: cb_0000000000000001"
    assert decision.remaining_cents == 100


def test_a_call_that_exactly_fits_is_allowed_with_the_tightest_remainder() -> None:
    tenant = budget(hard=True, daily=1000)
    user = budget(hard=True, daily=300, budget_type="user", entity_id="u", budget_id="cb_2")
    decision = guard([spend(tenant, daily="500"), spend(user, daily="200")], Decimal(100))
    assert decision.allowed
    assert (decision.budget_id, decision.remaining_cents) == ("cb_2", 100)


def test_a_monthly_hard_limit_refuses_too() -> None:
    decision = guard(
        [spend(budget(hard=True, daily=None, monthly=5000), monthly="5000")], Decimal(1)
    )
    assert not decision.allowed
