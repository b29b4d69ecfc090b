from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from aos_cost_intel.domain.detector import (
    detect_drift,
    detect_spend_anomalies,
    detect_spike,
    severity_for,
)
from aos_cost_intel.domain.history import EntityHistory
from aos_cost_intel.domain.kinds import AnomalyType, Cause, Severity

TODAY = date(2026, 3, 20)
Make = Callable[..., EntityHistory]


def test_a_flat_history_fires_nothing(make_history: Make) -> None:
    flat = make_history({})
    assert (
        detect_spend_anomalies(flat, [make_history({}, entity_type="user", entity_id="u")], TODAY)
        == []
    )


def test_an_empty_history_fires_nothing() -> None:
    assert detect_spend_anomalies(EntityHistory("tenant", "t", {}), [], TODAY) == []


def test_a_two_day_spike_fires_absolute_spike_high_with_traffic_growth(make_history: Make) -> None:
    spiky = make_history({-1: 200, 0: 200}, requests_by_offset={-1: 20, 0: 20})
    finding = detect_spike(spiky, TODAY)
    assert finding is not None
    assert finding.anomaly_type is AnomalyType.ABSOLUTE_SPIKE
    assert finding.severity is Severity.HIGH
    assert finding.derived_cause is Cause.TRAFFIC_GROWTH
    assert finding.day == TODAY - timedelta(days=1)
    assert (finding.current_value_cents, finding.expected_value_cents) == (200, 100)
    assert finding.deviation_pct == Decimal("100.00")


def test_a_one_day_spike_does_not_fire(make_history: Make) -> None:
    assert detect_spike(make_history({0: 500}), TODAY) is None
    assert detect_spike(make_history({-3: 500}), TODAY) is None


def test_two_spike_days_that_are_not_consecutive_do_not_fire(make_history: Make) -> None:
    assert detect_spike(make_history({-2: 300, 0: 300}), TODAY) is None


def test_a_ratio_just_below_1_40_is_not_a_breach(make_history: Make) -> None:
    assert detect_spike(make_history({-1: "139.99", 0: "139.99"}), TODAY) is None
    assert detect_spike(make_history({-1: 140, 0: 140}), TODAY) is not None


def test_a_streak_that_ended_within_the_week_still_fires(make_history: Make) -> None:
    finding = detect_spike(make_history({-5: 300, -4: 300}), TODAY)
    assert finding is not None
    assert finding.day == TODAY - timedelta(days=5)


def test_a_spike_keeps_its_key_while_it_lasts(make_history: Make) -> None:
    spiky = make_history({offset: 300 for offset in range(-8, 1)})
    today = detect_spike(spiky, TODAY)
    earlier = detect_spike(spiky, TODAY - timedelta(days=3))
    assert today is not None and earlier is not None
    assert today.key == earlier.key


def test_spend_from_nothing_is_not_a_spike(make_history: Make) -> None:
    assert detect_spike(make_history({-1: 500, 0: 500}, base_cost=0), TODAY) is None


def test_a_spike_from_bigger_prompts_is_prompt_growth(make_history: Make) -> None:
    finding = detect_spike(
        make_history({-1: 250, 0: 250}, tokens_by_offset={-1: 2_500, 0: 2_500}), TODAY
    )
    assert finding is not None
    assert finding.derived_cause is Cause.PROMPT_GROWTH


def test_a_spike_from_one_workflow_repeating_itself_is_a_retry_loop(make_history: Make) -> None:
    finding = detect_spike(
        make_history(
            {-1: 400, 0: 400},
            requests_by_offset={-1: 40, 0: 40},
            top_workflow_by_offset={0: 30},
        ),
        TODAY,
    )
    assert finding is not None
    assert finding.derived_cause is Cause.RETRY_LOOP


def test_retry_loop_wins_over_prompt_growth(make_history: Make) -> None:
    finding = detect_spike(
        make_history(
            {-1: 400, 0: 400},
            requests_by_offset={0: 40},
            tokens_by_offset={-1: 5_000, 0: 5_000},
            top_workflow_by_offset={0: 25},
        ),
        TODAY,
    )
    assert finding is not None
    assert finding.derived_cause is Cause.RETRY_LOOP


def test_a_spike_carried_by_one_feature_is_a_feature_surge(make_history: Make) -> None:
    features = {
        "chat.answer": {offset: 80 for offset in range(-59, 1)},
        "search.rank": {offset: 20 for offset in range(-59, -1)} | {-1: 120, 0: 120},
    }
    finding = detect_spike(make_history({-1: 200, 0: 200}, feature_costs=features), TODAY)
    assert finding is not None
    assert finding.derived_cause is Cause.FEATURE_SURGE


def test_a_dearer_model_at_unchanged_traffic_is_unknown(make_history: Make) -> None:
    finding = detect_spike(make_history({-1: 300, 0: 300}), TODAY)
    assert finding is not None
    assert finding.derived_cause is Cause.UNKNOWN


def test_a_sustained_drift_fires_on_the_tenant_with_medium_severity(make_history: Make) -> None:
    drifting = make_history(
        {offset: 130 for offset in range(-7, 1)},
        requests_by_offset={offset: 13 for offset in range(-7, 1)},
    )
    assert detect_spike(drifting, TODAY) is None
    finding = detect_drift(drifting, TODAY)
    assert finding is not None
    assert finding.anomaly_type is AnomalyType.SUSTAINED_DRIFT
    assert finding.severity is Severity.MEDIUM
    assert finding.deviation_pct == Decimal("30.00")
    assert finding.day == TODAY - timedelta(days=2)
    assert finding.derived_cause is Cause.TRAFFIC_GROWTH
    findings = detect_spend_anomalies(drifting, [], TODAY)
    assert [f.anomaly_type for f in findings] == [AnomalyType.SUSTAINED_DRIFT]


def test_a_drift_below_1_25_does_not_fire(make_history: Make) -> None:
    assert detect_drift(make_history({offset: 120 for offset in range(-7, 1)}), TODAY) is None


def test_a_drift_of_only_two_days_does_not_fire(make_history: Make) -> None:
    # A 7-day mean reaches 1.25x only when enough high days are inside it.
    assert detect_drift(make_history({-1: 190, 0: 190}), TODAY) is None


def test_spikes_are_reported_per_entity(make_history: Make) -> None:
    tenant = make_history({})
    user = make_history({-1: 50, 0: 50}, base_cost=10, entity_type="user", entity_id="alice")
    feature = make_history({}, entity_type="feature", entity_id="chat.answer")
    findings = detect_spend_anomalies(tenant, [user, feature], TODAY)
    assert [(f.entity_type, f.entity_id) for f in findings] == [("user", "alice")]


def test_severity_thresholds() -> None:
    assert severity_for(Decimal(40)) is Severity.HIGH
    assert severity_for(Decimal("39.99")) is Severity.MEDIUM
    assert severity_for(Decimal(25)) is Severity.MEDIUM
    assert severity_for(Decimal(15)) is Severity.LOW
    assert severity_for(Decimal("14.99")) is None


def test_a_young_entity_is_not_judged_against_days_before_it_existed(make_history: Make) -> None:
    young = make_history({-1: 300, 0: 300}, days=14)
    assert detect_spike(young, TODAY) is None
    assert detect_drift(make_history({}, days=20), TODAY) is None


def test_a_baseline_just_long_enough_is_judged(make_history: Make) -> None:
    assert detect_spike(make_history({-1: 300, 0: 300}, days=21), TODAY) is not None


def test_an_entity_with_one_feature_has_no_feature_surge(make_history: Make) -> None:
    features = {"only.one": {offset: 100 for offset in range(-59, -1)} | {-1: 300, 0: 300}}
    finding = detect_spike(make_history({-1: 300, 0: 300}, feature_costs=features), TODAY)
    assert finding is not None
    assert finding.derived_cause is Cause.UNKNOWN


def test_a_spike_message_names_the_entity_the_ratio_the_run_and_both_figures(
    make_history: Make,
) -> None:
    spiky = make_history({-1: 300, 0: 300}, entity_type="feature", entity_id="f.one")
    finding = detect_spike(spiky, TODAY)
    assert finding is not None
    assert finding.message == (
        "Feature 'f.one' spend spiked to 3.00x its baseline on 2 consecutive days "
        "(300 vs 100 cents/day)"
    )


def test_a_drift_message_names_the_baseline_days_and_both_figures(make_history: Make) -> None:
    drifting = make_history({offset: 130 for offset in range(-7, 1)})
    finding = detect_drift(drifting, TODAY)
    assert finding is not None
    assert finding.message == (
        "Tenant 'tnt_test' 7-day average spend is 1.30x its baseline (days -28..-8) "
        "on 3 consecutive days (130 vs 100 cents/day)"
    )
