"""Quota decisions with API.md's exact reason texts. Pure: callers pass the counters they read.

The same functions explain a refusal of the atomic run start (which enforces the limits in one
conditional UPDATE) and answer the read-only quota routes, so the texts cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

RUNS_PER_DAY = "runs_per_day"
TOKENS_PER_MONTH = "tokens_per_month"
TENANT_SUSPENDED = "Tenant is suspended"


@dataclass(frozen=True)
class QuotaDecision:
    allowed: bool
    reason: str | None
    quota_name: str
    current: int
    limit: int

    def as_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "quota_name": self.quota_name,
            "current": self.current,
            "limit": self.limit,
        }


def daily_limit_reason(limit: int) -> str:
    return f"Daily run limit ({limit}) exceeded"


def concurrent_limit_reason(limit: int) -> str:
    return f"Concurrent run limit ({limit}) reached"


def budget_reason(budget_id: str) -> str:
    return f"Budget exhausted: {budget_id}"


def token_limit_reason(limit: int) -> str:
    return f"Monthly token limit ({limit}) would be exceeded"


def counter_for(stored: int, counted_on: date | None, current_period: date) -> int:
    """A day/month counter is only meaningful for the period it was counted in; else it is 0."""
    return stored if counted_on == current_period else 0


def run_quota(
    *,
    status: str,
    runs_today: int,
    max_runs_per_day: int,
    running_runs: int,
    max_concurrent_runs: int,
    exhausted_budget_id: str | None = None,
) -> QuotaDecision:
    """Whether one more run may start, checked in API.md's order: status, day, concurrency, budget."""
    reason: str | None = None
    if status != "active":
        reason = TENANT_SUSPENDED
    elif runs_today >= max_runs_per_day:
        reason = daily_limit_reason(max_runs_per_day)
    elif running_runs >= max_concurrent_runs:
        reason = concurrent_limit_reason(max_concurrent_runs)
    elif exhausted_budget_id is not None:
        reason = budget_reason(exhausted_budget_id)
    return QuotaDecision(
        allowed=reason is None,
        reason=reason,
        quota_name=RUNS_PER_DAY,
        current=runs_today,
        limit=max_runs_per_day,
    )


def token_quota(
    *, tokens_this_month: int, max_tokens_per_month: int, tokens_needed: int
) -> QuotaDecision:
    """Whether `tokens_needed` more tokens fit in this month's allowance."""
    exceeded = tokens_this_month + tokens_needed > max_tokens_per_month
    return QuotaDecision(
        allowed=not exceeded,
        reason=token_limit_reason(max_tokens_per_month) if exceeded else None,
        quota_name=TOKENS_PER_MONTH,
        current=tokens_this_month,
        limit=max_tokens_per_month,
    )
