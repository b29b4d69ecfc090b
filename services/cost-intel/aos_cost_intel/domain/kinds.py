"""The closed vocabularies of anomalies: types, severities and derived causes."""

from __future__ import annotations

from enum import StrEnum


class AnomalyType(StrEnum):
    ABSOLUTE_SPIKE = "ABSOLUTE_SPIKE"
    SUSTAINED_DRIFT = "SUSTAINED_DRIFT"
    BUDGET_WARNING = "BUDGET_WARNING"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    RESERVATION_OVERSHOOT = "RESERVATION_OVERSHOOT"


class Severity(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Cause(StrEnum):
    """Checked in this order; the first that holds is the derived cause."""

    RETRY_LOOP = "RETRY_LOOP"
    PROMPT_GROWTH = "PROMPT_GROWTH"
    FEATURE_SURGE = "FEATURE_SURGE"
    TRAFFIC_GROWTH = "TRAFFIC_GROWTH"
    UNKNOWN = "UNKNOWN"
    ESTIMATE_TOO_LOW = "ESTIMATE_TOO_LOW"
    """A reservation settled above its hold: the work cost more than was authorized."""
