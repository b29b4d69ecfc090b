"""The anomaly detector of API.md, as pure functions over daily spend series.

Day offsets are relative to the day being judged (`d`): a day with no records spends 0.

- ABSOLUTE_SPIKE (per tenant, feature and user): day d is a *breach day* when its spend is at
  least 1.40 x the mean daily spend of days d-14 ... d-2 (13 days; d-1 is left out so that a
  spike that began yesterday does not inflate its own baseline). It fires when the last 7 days
  (today included) hold at least 2 consecutive breach days.
- SUSTAINED_DRIFT (tenant): the 7-day rolling mean ending at d against the mean of days
  d-28 ... d-8; a breach at ratio >= 1.25; fires on at least 3 consecutive breach days within
  the last 7 days.
- A baseline of zero never breaches: a ratio to nothing is not a spike.
- A baseline needs history: an entity whose first recorded day is after the baseline window's
  first day is too young to judge (its missing days would read as zero spend and every young
  tenant would "drift"). Days without records after the first one do count as zero.

An anomaly is keyed by (type, entity, day). For spikes and drift the day is the first breach day
of the streak (followed back past the 7-day window), so re-running the detector while an episode
lasts finds the same anomaly instead of a new one each day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from aos_cost_intel.domain.causes import derive_cause, window_stats
from aos_cost_intel.domain.history import EntityHistory, days_back
from aos_cost_intel.domain.kinds import AnomalyType, Cause, Severity
from aos_cost_intel.domain.money import EXACT, PCT_QUANTUM, ZERO, divide, exact_sum, plain

SPIKE_RATIO = Decimal("1.40")
SPIKE_BASELINE = (14, 2)
SPIKE_MIN_RUN = 2
DRIFT_RATIO = Decimal("1.25")
DRIFT_ROLLING_DAYS = 7
DRIFT_BASELINE = (28, 8)
DRIFT_MIN_RUN = 3
WINDOW_DAYS = 7
MAX_STREAK_LOOKBACK = 60
HISTORY_DAYS = WINDOW_DAYS + DRIFT_BASELINE[0] + MAX_STREAK_LOOKBACK


BreachTest = Callable[[EntityHistory, date], bool]


@dataclass(frozen=True)
class Finding:
    """An anomaly the detector found; persistence turns it into a CostAnomaly."""

    anomaly_type: AnomalyType
    severity: Severity
    entity_type: str
    entity_id: str
    day: date
    current_value_cents: Decimal
    expected_value_cents: Decimal
    deviation_pct: Decimal
    message: str
    derived_cause: Cause

    @property
    def key(self) -> tuple[str, str, str, date]:
        return (self.anomaly_type.value, self.entity_type, self.entity_id, self.day)


def severity_for(deviation_pct: Decimal) -> Severity | None:
    """HIGH at >= 40 % above expectation, MEDIUM at >= 25 %, LOW at >= 15 %, else none."""
    if deviation_pct >= 40:
        return Severity.HIGH
    if deviation_pct >= 25:
        return Severity.MEDIUM
    if deviation_pct >= 15:
        return Severity.LOW
    return None


def deviation(current: Decimal, expected: Decimal) -> Decimal:
    if not expected:
        return ZERO
    return divide(
        EXACT.multiply(EXACT.subtract(current, expected), Decimal(100)), expected, PCT_QUANTUM
    )


def mean_cost(history: EntityHistory, days: Sequence[date]) -> Decimal:
    return divide(exact_sum(history.cost(d) for d in days), Decimal(len(days)))


def spike_baseline(history: EntityHistory, day: date) -> Decimal:
    return mean_cost(history, days_back(day, *SPIKE_BASELINE))


def is_spike_day(history: EntityHistory, day: date) -> bool:
    if not history.covers(day - timedelta(days=SPIKE_BASELINE[0])):
        return False
    baseline = spike_baseline(history, day)
    return baseline > 0 and history.cost(day) >= EXACT.multiply(baseline, SPIKE_RATIO)


def drift_means(history: EntityHistory, day: date) -> tuple[Decimal, Decimal]:
    """(7-day rolling mean ending at `day`, mean of days day-28 ... day-8)."""
    return (
        mean_cost(history, days_back(day, DRIFT_ROLLING_DAYS - 1, 0)),
        mean_cost(history, days_back(day, *DRIFT_BASELINE)),
    )


def is_drift_day(history: EntityHistory, day: date) -> bool:
    if not history.covers(day - timedelta(days=DRIFT_BASELINE[0])):
        return False
    rolling, baseline = drift_means(history, day)
    return baseline > 0 and rolling >= EXACT.multiply(baseline, DRIFT_RATIO)


def latest_streak(breach: Mapping[date, bool], today: date, min_run: int) -> list[date] | None:
    """The latest run of >= `min_run` consecutive breach days inside the last WINDOW_DAYS days."""
    window = days_back(today, WINDOW_DAYS - 1, 0)
    best: list[date] | None = None
    run: list[date] = []
    for day in window:
        if breach.get(day, False):
            run.append(day)
            if len(run) >= min_run:
                best = list(run)
        else:
            run = []
    return best


def streak_start(streak: list[date], is_breach: BreachTest, history: EntityHistory) -> date:
    """Follow a streak back past the window so its key stays the same while it lasts."""
    start = streak[0]
    for _ in range(MAX_STREAK_LOOKBACK):
        previous = start - timedelta(days=1)
        if not is_breach(history, previous):
            break
        start = previous
    return start


def _finding(
    kind: AnomalyType,
    history: EntityHistory,
    first: date,
    current: Decimal,
    expected: Decimal,
    cause: Cause,
    what: str,
) -> Finding:
    """A finding for a streak that began on `first`: the severity follows the deviation, and the
    message names the entity, `what` happened and both daily figures. Spikes and drift differ
    only in how they measure, not in what they report."""
    deviation_pct = deviation(current, expected)
    return Finding(
        anomaly_type=kind,
        severity=severity_for(deviation_pct) or Severity.LOW,
        entity_type=history.entity_type,
        entity_id=history.entity_id,
        day=first,
        current_value_cents=current,
        expected_value_cents=expected,
        deviation_pct=deviation_pct,
        message=(
            f"{_entity_label(history)} {what} ({plain(current)} vs {plain(expected)} cents/day)"
        ),
        derived_cause=cause,
    )


def detect_spike(history: EntityHistory, today: date) -> Finding | None:
    breach = {d: is_spike_day(history, d) for d in days_back(today, WINDOW_DAYS - 1, 0)}
    streak = latest_streak(breach, today, SPIKE_MIN_RUN)
    if streak is None:
        return None
    last = streak[-1]
    current = history.cost(last)
    expected = spike_baseline(history, last)
    first = streak_start(streak, is_spike_day, history)
    baseline_days = days_back(first, *SPIKE_BASELINE)
    cause = derive_cause(
        history, window_stats(history, streak), window_stats(history, baseline_days)
    )
    ratio = divide(current, expected, Decimal("0.01"))
    what = f"spend spiked to {ratio}x its baseline on {len(streak)} consecutive days"
    return _finding(AnomalyType.ABSOLUTE_SPIKE, history, first, current, expected, cause, what)


def detect_drift(history: EntityHistory, today: date) -> Finding | None:
    breach = {d: is_drift_day(history, d) for d in days_back(today, WINDOW_DAYS - 1, 0)}
    streak = latest_streak(breach, today, DRIFT_MIN_RUN)
    if streak is None:
        return None
    last = streak[-1]
    current, expected = drift_means(history, last)
    first = streak_start(streak, is_drift_day, history)
    cause = derive_cause(
        history,
        window_stats(history, days_back(last, DRIFT_ROLLING_DAYS - 1, 0)),
        window_stats(history, days_back(last, *DRIFT_BASELINE)),
    )
    ratio = divide(current, expected, Decimal("0.01"))
    what = (
        f"7-day average spend is {ratio}x its baseline (days -28..-8) "
        f"on {len(streak)} consecutive days"
    )
    return _finding(AnomalyType.SUSTAINED_DRIFT, history, first, current, expected, cause, what)


def detect_spend_anomalies(
    tenant: EntityHistory, others: Sequence[EntityHistory], today: date
) -> list[Finding]:
    """Spikes for the tenant and every feature and user; drift for the tenant."""
    findings: list[Finding] = []
    for history in (tenant, *others):
        spike = detect_spike(history, today)
        if spike is not None:
            findings.append(spike)
    drift = detect_drift(tenant, today)
    if drift is not None:
        findings.append(drift)
    return findings


def _entity_label(history: EntityHistory) -> str:
    kind = {"tenant": "Tenant", "feature": "Feature", "user": "User"}.get(
        history.entity_type, history.entity_type.title()
    )
    return f"{kind} '{history.entity_id}'"
