"""Derived causes of a spend anomaly, checked in API.md's order; the first that holds wins.

Each compares the anomaly's *current* days with its *baseline* days (per-day means):
- RETRY_LOOP: on a current day one workflow made >= 20 requests and >= 50 % of the entity's
  requests (the same work re-sent over and over).
- PROMPT_GROWTH: prompt-side tokens per request grew >= 1.5x.
- FEATURE_SURGE (tenant and user entities that use several features): one feature carries
  >= 50 % of the cost increase and its own daily spend at least doubled (or it is new).
- TRAFFIC_GROWTH: requests per day grew >= 1.3x (or started from nothing).
- UNKNOWN otherwise (e.g. a switch to a dearer model at unchanged traffic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from aos_cost_intel.domain.history import EntityHistory
from aos_cost_intel.domain.kinds import Cause

RETRY_MIN_REQUESTS = 20
RETRY_WORKFLOW_SHARE = Fraction(1, 2)
PROMPT_GROWTH_RATIO = Fraction(3, 2)
FEATURE_SURGE_SHARE = Fraction(1, 2)
FEATURE_SURGE_RATIO = Fraction(2)
TRAFFIC_GROWTH_RATIO = Fraction(13, 10)


@dataclass(frozen=True)
class WindowStats:
    days: tuple[date, ...]
    cost: Fraction
    requests: int
    input_tokens: int
    retry_like_day: bool

    def per_day(self, value: Fraction | int) -> Fraction:
        return Fraction(value) / len(self.days) if self.days else Fraction(0)


def window_stats(history: EntityHistory, days: Sequence[date]) -> WindowStats:
    stats = [history.stats(day) for day in days]
    return WindowStats(
        days=tuple(days),
        cost=sum((Fraction(s.cost_cents) for s in stats), Fraction(0)),
        requests=sum(s.requests for s in stats),
        input_tokens=sum(s.input_tokens for s in stats),
        retry_like_day=any(
            s.top_workflow_requests >= RETRY_MIN_REQUESTS
            and s.requests > 0
            and Fraction(s.top_workflow_requests, s.requests) >= RETRY_WORKFLOW_SHARE
            for s in stats
        ),
    )


def is_prompt_growth(current: WindowStats, baseline: WindowStats) -> bool:
    if not (current.requests and baseline.requests and baseline.input_tokens):
        return False
    current_avg = Fraction(current.input_tokens, current.requests)
    baseline_avg = Fraction(baseline.input_tokens, baseline.requests)
    return current_avg >= PROMPT_GROWTH_RATIO * baseline_avg


def _feature_mean(history: EntityHistory, feature: str, days: Sequence[date]) -> Fraction:
    costs = history.feature_costs.get(feature, {})
    total = sum((Fraction(costs.get(day, 0)) for day in days), Fraction(0))
    return total / len(days) if days else Fraction(0)


def is_feature_surge(history: EntityHistory, current: WindowStats, baseline: WindowStats) -> bool:
    if history.entity_type == "feature" or len(history.feature_costs) < 2:
        return False
    total_increase = current.per_day(current.cost) - baseline.per_day(baseline.cost)
    if total_increase <= 0:
        return False
    best: tuple[Fraction, Fraction, Fraction] | None = None
    for feature in sorted(history.feature_costs):
        now = _feature_mean(history, feature, current.days)
        before = _feature_mean(history, feature, baseline.days)
        if best is None or now - before > best[0]:
            best = (now - before, now, before)
    if best is None:
        return False
    increase, now, before = best
    return increase >= FEATURE_SURGE_SHARE * total_increase and now >= FEATURE_SURGE_RATIO * before


def is_traffic_growth(current: WindowStats, baseline: WindowStats) -> bool:
    now = current.per_day(current.requests)
    before = baseline.per_day(baseline.requests)
    if before == 0:
        return now > 0
    return now >= TRAFFIC_GROWTH_RATIO * before


def derive_cause(history: EntityHistory, current: WindowStats, baseline: WindowStats) -> Cause:
    if current.retry_like_day:
        return Cause.RETRY_LOOP
    if is_prompt_growth(current, baseline):
        return Cause.PROMPT_GROWTH
    if is_feature_surge(history, current, baseline):
        return Cause.FEATURE_SURGE
    if is_traffic_growth(current, baseline):
        return Cause.TRAFFIC_GROWTH
    return Cause.UNKNOWN
