"""Quota decisions and their exact reason texts."""

from __future__ import annotations

from datetime import date

from aos_tenants.domain.quotas import counter_for, run_quota, token_quota

LIMITS = {"max_runs_per_day": 100, "max_concurrent_runs": 5}


def test_allowed_run() -> None:
    decision = run_quota(status="active", runs_today=3, running_runs=1, **LIMITS)
    assert decision.as_dict() == {
        "allowed": True,
        "reason": None,
        "quota_name": "runs_per_day",
        "current": 3,
        "limit": 100,
    }


def test_reasons_in_order() -> None:
    assert run_quota(status="suspended", runs_today=100, running_runs=5, **LIMITS).reason == (
        "Tenant is suspended"
    )
    assert run_quota(status="active", runs_today=100, running_runs=5, **LIMITS).reason == (
        "Daily run limit (100) exceeded"
    )
    assert run_quota(status="active", runs_today=99, running_runs=5, **LIMITS).reason == (
        "Concurrent run limit (5) reached"
    )
    budget = run_quota(
        status="active", runs_today=0, running_runs=0, exhausted_budget_id="cb_1", **LIMITS
    )
    assert budget.reason == "Budget exhausted: cb_1" and not budget.allowed


def test_token_quota_boundary() -> None:
    assert token_quota(tokens_this_month=90, max_tokens_per_month=100, tokens_needed=10).allowed
    refused = token_quota(tokens_this_month=90, max_tokens_per_month=100, tokens_needed=11)
    assert refused.reason == "Monthly token limit (100) would be exceeded"
    assert refused.quota_name == "tokens_per_month" and refused.current == 90


def test_counters_from_an_earlier_period_read_as_zero() -> None:
    today = date(2026, 3, 2)
    assert counter_for(7, date(2026, 3, 2), today) == 7
    assert counter_for(7, date(2026, 3, 1), today) == 0
    assert counter_for(7, None, today) == 0
