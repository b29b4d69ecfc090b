from decimal import Decimal

from aos_cost_intel.domain.breakdowns import pct_of_total, user_outliers
from aos_cost_intel.domain.consistency import DashboardFacts, Row, check_dashboard


def facts(**overrides: object) -> DashboardFacts:
    base: dict[str, object] = {
        "total_cost_cents": Decimal("10.5"),
        "request_count": 3,
        "budget_cents": Decimal(100),
        "budget_used_pct": Decimal("10.50"),
        "by_feature": [Row("a.b", Decimal("10"), 2), Row("unclassified", Decimal("0.5"), 1)],
        "by_user": [Row("alice", Decimal("10.5"), 3)],
        "by_model": [Row("gpt-4o", Decimal("0.25"), 1), Row("o3", Decimal("10.25"), 2)],
        "anomaly_entities": [("user", "alice"), ("tenant", "tnt")],
    }
    base.update(overrides)
    return DashboardFacts(**base)  # type: ignore[arg-type]


def test_consistent_panels_have_no_violations() -> None:
    report = check_dashboard(facts())
    assert report.violations == ()
    assert "by_user.cost_sum" in report.rules


def test_a_breakdown_off_by_a_fraction_of_a_cent_is_caught() -> None:
    report = check_dashboard(facts(by_model=[Row("o3", Decimal("10.4999"), 3)]))
    assert [v.rule_id for v in report.violations] == ["by_model.cost_sum"]


def test_a_request_count_mismatch_is_caught() -> None:
    report = check_dashboard(facts(by_user=[Row("alice", Decimal("10.5"), 2)]))
    assert [v.rule_id for v in report.violations] == ["by_user.request_sum"]


def test_a_duplicated_entity_is_caught() -> None:
    rows = [Row("alice", Decimal("5"), 1), Row("alice", Decimal("5.5"), 2)]
    report = check_dashboard(facts(by_user=rows))
    assert [v.rule_id for v in report.violations] == ["by_user.unique_keys"]


def test_budget_percentage_disagreeing_with_spend_is_caught() -> None:
    report = check_dashboard(facts(budget_used_pct=Decimal("11.00")))
    assert [v.rule_id for v in report.violations] == ["summary.budget_used_pct"]


def test_an_anomaly_on_an_entity_missing_from_the_breakdown_is_caught() -> None:
    report = check_dashboard(facts(anomaly_entities=[("feature", "x.y")]))
    assert [v.rule_id for v in report.violations] == ["anomalies.entities_in_breakdowns"]


def test_users_above_twice_the_mean_are_flagged() -> None:
    messages = user_outliers([Decimal(700), Decimal(100), Decimal(100), Decimal(100)])
    assert messages == ["Spending 2.8x average", None, None, None]
    assert user_outliers([Decimal(1), Decimal(1)]) == [None, None]


def test_shares_of_an_empty_total_are_zero() -> None:
    assert pct_of_total(Decimal(0), Decimal(0)) == 0
    assert pct_of_total(Decimal(1), Decimal(3)) == Decimal("33.33")
