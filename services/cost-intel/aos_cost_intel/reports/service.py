"""Summary, breakdowns, projection and the dashboard (with its consistency check)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import driver_connection
from aos_cost_intel.anomalies import repository as anomalies_repository
from aos_cost_intel.anomalies.schemas import CostAnomalyRead
from aos_cost_intel.budgets.service import tenant_budget
from aos_cost_intel.domain import consistency
from aos_cost_intel.domain.breakdowns import pct_of_total, user_outliers
from aos_cost_intel.domain.money import EXACT, PCT_QUANTUM, divide, percentage
from aos_cost_intel.domain.periods import Window, period_window
from aos_cost_intel.domain.projection import DAYS_PER_MONTH, project
from aos_cost_intel.features.repository import tag_details
from aos_cost_intel.reports import repository
from aos_cost_intel.reports.repository import Aggregates, Totals
from aos_cost_intel.reports.schemas import (
    Consistency,
    DashboardRead,
    FeatureBreakdown,
    FeatureCost,
    ModelBreakdown,
    ModelCost,
    ProjectionRead,
    Provenance,
    SeriesPoint,
    SpendSeries,
    SummaryProvenance,
    SummaryRead,
    UserBreakdown,
    UserCost,
    Violation,
)

ANONYMOUS = "anonymous"


def _window(period: str) -> Window:
    return period_window(period, datetime.now(UTC))


async def _aggregate(
    session: AsyncSession, tenant_id: str, window: Window, dims: Sequence[str]
) -> Aggregates:
    conn = await driver_connection(session)
    return await repository.aggregate_rollups(conn, tenant_id, window.start, window.end, dims)


async def build_summary(
    session: AsyncSession, tenant_id: str, window: Window, total: Totals
) -> SummaryRead:
    budget = await tenant_budget(session, tenant_id)
    budget_cents = None
    if budget is not None and budget.daily_limit_cents is not None:
        budget_cents = EXACT.multiply(budget.daily_limit_cents, Decimal(window.days))
    used = percentage(total.cost_cents, budget_cents) if budget_cents else None
    days_left = None
    if budget_cents is not None and total.cost_cents > 0:
        remaining = max(EXACT.subtract(budget_cents, total.cost_cents), Decimal(0))
        rate = divide(total.cost_cents, Decimal(window.days))
        days_left = divide(remaining, rate, PCT_QUANTUM) if rate else None
    return SummaryRead(
        tenant_id=tenant_id,
        period_start=window.start,
        period_end=window.end,
        total_cost_cents=total.cost_cents,
        total_input_tokens=total.input_tokens,
        total_output_tokens=total.output_tokens,
        total_cache_read_input_tokens=total.cache_read_input_tokens,
        total_cache_creation_input_tokens=total.cache_creation_input_tokens,
        total_reasoning_output_tokens=total.reasoning_output_tokens,
        request_count=total.request_count,
        budget_cents=budget_cents,
        budget_used_pct=used,
        days_remaining_at_current_rate=days_left,
        provenance=SummaryProvenance(
            computed_at=datetime.now(UTC), period_description=window.description
        ),
    )


def _sorted(rows: dict[str, Totals]) -> list[tuple[str, Totals]]:
    return sorted(rows.items(), key=lambda item: (-item[1].cost_cents, item[0]))


async def feature_rows(session: AsyncSession, tenant_id: str, agg: Aggregates) -> list[FeatureCost]:
    details = await tag_details(session, tenant_id)
    total = agg.total.cost_cents
    rows = []
    for tag, totals in _sorted(agg.by["feature_tag"]):
        detail = details.get(tag)
        budget = detail.budget_cents if detail else None
        rows.append(
            FeatureCost.model_construct(
                feature_tag=tag,
                display_name=detail.display_name if detail else None,
                total_cost_cents=totals.cost_cents,
                request_count=totals.request_count,
                pct_of_total=pct_of_total(totals.cost_cents, total),
                budget_cents=budget,
                budget_used_pct=percentage(totals.cost_cents, budget) if budget else None,
            )
        )
    return rows


def user_rows(agg: Aggregates) -> list[UserCost]:
    merged: dict[str, Totals] = {}
    for user, totals in agg.by["user_id"].items():
        key = user or ANONYMOUS
        if key in merged:
            current = merged[key]
            current.cost_cents = EXACT.add(current.cost_cents, totals.cost_cents)
            current.request_count += totals.request_count
        else:
            merged[key] = Totals(cost_cents=totals.cost_cents, request_count=totals.request_count)
    ordered = _sorted(merged)
    messages = user_outliers([totals.cost_cents for _, totals in ordered])
    return [
        UserCost.model_construct(
            user_id=user,
            total_cost_cents=totals.cost_cents,
            request_count=totals.request_count,
            pct_of_total=pct_of_total(totals.cost_cents, agg.total.cost_cents),
            is_anomaly=message is not None,
            anomaly_message=message,
        )
        for (user, totals), message in zip(ordered, messages, strict=True)
    ]


def model_rows(agg: Aggregates) -> list[ModelCost]:
    return [
        ModelCost.model_construct(
            model=model,
            total_cost_cents=totals.cost_cents,
            total_input_tokens=totals.input_tokens,
            total_output_tokens=totals.output_tokens,
            request_count=totals.request_count,
            pct_of_total=pct_of_total(totals.cost_cents, agg.total.cost_cents),
        )
        for model, totals in _sorted(agg.by["model"])
    ]


def _provenance(window: Window, sources: list[str], aggregation: str) -> Provenance:
    return Provenance(
        sources=sources,
        window=window.period,
        aggregation=aggregation,
        generated_at=datetime.now(UTC),
    )


async def summary(session: AsyncSession, tenant_id: str, period: str) -> SummaryRead:
    window = _window(period)
    agg = await _aggregate(session, tenant_id, window, ())
    return await build_summary(session, tenant_id, window, agg.total)


async def by_feature(session: AsyncSession, tenant_id: str, period: str) -> FeatureBreakdown:
    window = _window(period)
    agg = await _aggregate(session, tenant_id, window, ("feature_tag",))
    return FeatureBreakdown(
        data=await feature_rows(session, tenant_id, agg),
        provenance=_provenance(window, ["cost_records", "feature_tags"], "GROUP_BY:feature_tag"),
    )


async def by_user(session: AsyncSession, tenant_id: str, period: str) -> UserBreakdown:
    window = _window(period)
    agg = await _aggregate(session, tenant_id, window, ("user_id",))
    return UserBreakdown(
        data=user_rows(agg), provenance=_provenance(window, ["cost_records"], "GROUP_BY:user")
    )


async def by_model(session: AsyncSession, tenant_id: str, period: str) -> ModelBreakdown:
    window = _window(period)
    agg = await _aggregate(session, tenant_id, window, ("model",))
    return ModelBreakdown(
        data=model_rows(agg), provenance=_provenance(window, ["cost_records"], "GROUP_BY:model")
    )


async def projection(
    session: AsyncSession, tenant_id: str, lookback_days: int, forecast_days: int
) -> ProjectionRead:
    today = datetime.now(UTC).date()
    conn = await driver_connection(session)
    points = await repository.daily_costs(
        conn, tenant_id, today - timedelta(days=lookback_days - 1), today
    )
    budget = await tenant_budget(session, tenant_id)
    budget_cents = None
    if budget is not None:
        if budget.monthly_limit_cents is not None:
            budget_cents = budget.monthly_limit_cents
        elif budget.daily_limit_cents is not None:
            budget_cents = EXACT.multiply(budget.daily_limit_cents, Decimal(DAYS_PER_MONTH))
    month_to_date = await repository.spend_between(conn, tenant_id, today.replace(day=1), today)
    result = project([cost for _, cost in points], forecast_days, budget_cents, month_to_date)
    return ProjectionRead(
        tenant_id=tenant_id,
        lookback_days=lookback_days,
        forecast_days=forecast_days,
        current_daily_avg_cents=result.current_daily_avg_cents,
        projected_total_cents=result.projected_total_cents,
        monthly_projection_cents=result.monthly_projection_cents,
        budget_cents=budget_cents,
        days_until_budget_exhausted=result.days_until_budget_exhausted,
        trend=result.trend,
    )


def _with_anomaly_entities(
    features: list[FeatureCost], users: list[UserCost], anomalies: Sequence[CostAnomalyRead]
) -> None:
    """An anomaly's feature or user without spend in the window still gets a (zero) row, so the
    panel shows every entity an anomaly names."""
    listed = {"feature": {f.feature_tag for f in features}, "user": {u.user_id for u in users}}
    zero = Decimal(0)
    for anomaly in anomalies:
        if anomaly.entity_type == "feature" and anomaly.entity_id not in listed["feature"]:
            features.append(
                FeatureCost.model_construct(
                    feature_tag=anomaly.entity_id,
                    display_name=None,
                    total_cost_cents=zero,
                    request_count=0,
                    pct_of_total=zero,
                    budget_cents=None,
                    budget_used_pct=None,
                )
            )
            listed["feature"].add(anomaly.entity_id)
        elif anomaly.entity_type == "user" and anomaly.entity_id not in listed["user"]:
            users.append(
                UserCost.model_construct(
                    user_id=anomaly.entity_id,
                    total_cost_cents=zero,
                    request_count=0,
                    pct_of_total=zero,
                    is_anomaly=False,
                    anomaly_message=None,
                )
            )
            listed["user"].add(anomaly.entity_id)


def check(
    summary_read: SummaryRead,
    features: Sequence[FeatureCost],
    users: Sequence[UserCost],
    models: Sequence[ModelCost],
    anomalies: Sequence[CostAnomalyRead],
) -> Consistency:
    facts = consistency.DashboardFacts(
        total_cost_cents=summary_read.total_cost_cents,
        request_count=summary_read.request_count,
        budget_cents=summary_read.budget_cents,
        budget_used_pct=summary_read.budget_used_pct,
        by_feature=[
            consistency.Row(f.feature_tag, f.total_cost_cents, f.request_count) for f in features
        ],
        by_user=[consistency.Row(u.user_id, u.total_cost_cents, u.request_count) for u in users],
        by_model=[consistency.Row(m.model, m.total_cost_cents, m.request_count) for m in models],
        anomaly_entities=[(a.entity_type, a.entity_id) for a in anomalies],
    )
    report = consistency.check_dashboard(facts)
    return Consistency(
        rules_checked=len(report.rules),
        rules=list(report.rules),
        violations=[
            Violation(rule_id=v.rule_id, message=v.message, severity=v.severity)
            for v in report.violations
        ],
    )


async def dashboard(session: AsyncSession, tenant_id: str, period: str) -> DashboardRead:
    window = _window(period)
    agg = await _aggregate(session, tenant_id, window, repository.DIMENSIONS)
    summary_read = await build_summary(session, tenant_id, window, agg.total)
    features = await feature_rows(session, tenant_id, agg)
    users = user_rows(agg)
    models = model_rows(agg)
    anomalies = await anomalies_repository.open_since(session, tenant_id, window.start)
    _with_anomaly_entities(features, users, anomalies)
    return DashboardRead(
        summary=summary_read,
        by_feature=features,
        by_user=users,
        by_model=models,
        anomalies=anomalies,
        projection=await projection(session, tenant_id, 7, 7),
        consistency=check(summary_read, features, users, models, anomalies),
    )


async def spend_series(
    session: AsyncSession, tenant_id: str, period: str, group_by: str
) -> SpendSeries:
    """Hourly buckets for 24h, daily (UTC) buckets for 7d and 30d, read from the dimension rollups."""
    window = _window(period)
    grain = "h" if period == "24h" else "d"
    start = window.start if grain == "h" else window.start.replace(hour=0)
    conn = await driver_connection(session)
    rows = await repository.spend_series(conn, tenant_id, group_by, grain, start, window.end)
    return SpendSeries(
        group_by=group_by,
        grain="hour" if grain == "h" else "day",
        period_start=start,
        period_end=window.end,
        data=[
            SeriesPoint(
                bucket=row["bucket"],
                key=row["key"],
                cost_cents=row["cost_cents"],
                request_count=row["request_count"],
            )
            for row in rows
        ],
        provenance=Provenance(
            sources=["cost_records"],
            window=period,
            aggregation=f"SUM BY {'hour' if grain == 'h' else 'day'}, {group_by}",
            generated_at=datetime.now(UTC),
        ),
    )
