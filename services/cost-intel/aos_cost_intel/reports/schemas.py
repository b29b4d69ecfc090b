"""Report payloads: summary, breakdowns with provenance, projection, dashboard."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, PlainSerializer

from aos_cost_intel.anomalies.schemas import CostAnomalyRead
from aos_cost_intel.schemas import Cents

Pct = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
"""A derived percentage or count of days, rounded to two places; a JSON number."""


class SummaryProvenance(BaseModel):
    aggregation: str = "sum"
    data_source: str = "cost_records"
    computed_at: datetime
    period_description: str
    read_from: list[str] = ["cost_rollups_daily", "cost_rollups_hourly"]


class SummaryRead(BaseModel):
    tenant_id: str
    period_start: datetime
    period_end: datetime
    total_cost_cents: Cents
    total_input_tokens: int
    total_output_tokens: int
    total_cache_read_input_tokens: int
    total_cache_creation_input_tokens: int
    total_reasoning_output_tokens: int
    request_count: int
    budget_cents: Cents | None
    budget_used_pct: Pct | None
    days_remaining_at_current_rate: Pct | None
    provenance: SummaryProvenance


class Provenance(BaseModel):
    sources: list[str]
    window: str
    aggregation: str
    generated_at: datetime


class FeatureCost(BaseModel):
    feature_tag: str
    display_name: str | None
    total_cost_cents: Cents
    request_count: int
    pct_of_total: Pct
    budget_cents: Cents | None
    budget_used_pct: Pct | None


class UserCost(BaseModel):
    user_id: str
    total_cost_cents: Cents
    request_count: int
    pct_of_total: Pct
    is_anomaly: bool
    anomaly_message: str | None


class ModelCost(BaseModel):
    model: str
    total_cost_cents: Cents
    total_input_tokens: int
    total_output_tokens: int
    request_count: int
    pct_of_total: Pct


class FeatureBreakdown(BaseModel):
    data: list[FeatureCost]
    provenance: Provenance


class UserBreakdown(BaseModel):
    data: list[UserCost]
    provenance: Provenance


class ModelBreakdown(BaseModel):
    data: list[ModelCost]
    provenance: Provenance


class ProjectionRead(BaseModel):
    tenant_id: str
    lookback_days: int
    forecast_days: int
    current_daily_avg_cents: Cents
    projected_total_cents: Cents
    monthly_projection_cents: Cents
    budget_cents: Cents | None
    days_until_budget_exhausted: Pct | None
    trend: str


class Violation(BaseModel):
    rule_id: str
    message: str
    severity: str


class Consistency(BaseModel):
    rules_checked: int
    rules: list[str]
    violations: list[Violation]


class DashboardRead(BaseModel):
    summary: SummaryRead
    by_feature: list[FeatureCost]
    by_user: list[UserCost]
    by_model: list[ModelCost]
    anomalies: list[CostAnomalyRead]
    projection: ProjectionRead
    consistency: Consistency


class SeriesPoint(BaseModel):
    bucket: datetime
    key: str
    cost_cents: Cents
    request_count: int


class SpendSeries(BaseModel):
    """Spend per hour (24h) or per UTC day (7d, 30d), split by model or feature: the console's
    stacked chart. Keys are '' for records without a feature."""

    group_by: str
    grain: str
    period_start: datetime
    period_end: datetime
    data: list[SeriesPoint]
    provenance: Provenance
