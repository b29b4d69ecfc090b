"""Reporting windows. `period` is 24h, 7d or 30d and ends now; its start is floored to the UTC
hour so that every figure can be read from hourly rollups exactly (a window therefore covers up
to one hour more than its nominal length, and says so in `period_start`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

PERIODS: dict[str, tuple[timedelta, int, str]] = {
    "24h": (timedelta(hours=24), 1, "Last 24 hours"),
    "7d": (timedelta(days=7), 7, "Last 7 days"),
    "30d": (timedelta(days=30), 30, "Last 30 days"),
}


@dataclass(frozen=True)
class Window:
    period: str
    start: datetime
    end: datetime
    days: int
    description: str


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def period_window(period: str, now: datetime) -> Window:
    length, days, description = PERIODS[period]
    return Window(period, floor_hour(now - length), now, days, description)
