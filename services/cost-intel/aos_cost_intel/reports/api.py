"""Routes: /api/v1/cost/dashboard, summary, by-feature, by-user, by-model, series, projection."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_cost_intel.dependencies import ReaderDep
from aos_cost_intel.reports import service
from aos_cost_intel.reports.schemas import (
    DashboardRead,
    FeatureBreakdown,
    ModelBreakdown,
    ProjectionRead,
    SpendSeries,
    SummaryRead,
    UserBreakdown,
)

router = APIRouter(prefix="/api/v1/cost", tags=["cost reports"])
Period = Annotated[Literal["24h", "7d", "30d"], Query()]


@router.get("/dashboard", response_model=DashboardRead)
async def dashboard(
    session: SessionDep,
    caller: ReaderDep,
    period: Period = "24h",
) -> Response:
    return json_response(await service.dashboard(session, caller.tenant_id, period))


@router.get("/summary", response_model=SummaryRead)
async def summary(
    session: SessionDep,
    caller: ReaderDep,
    period: Period = "24h",
) -> Response:
    return json_response(await service.summary(session, caller.tenant_id, period))


@router.get("/by-feature", response_model=FeatureBreakdown)
async def by_feature(
    session: SessionDep,
    caller: ReaderDep,
    period: Period = "24h",
) -> Response:
    return json_response(await service.by_feature(session, caller.tenant_id, period))


@router.get("/by-user", response_model=UserBreakdown)
async def by_user(
    session: SessionDep,
    caller: ReaderDep,
    period: Period = "24h",
) -> Response:
    return json_response(await service.by_user(session, caller.tenant_id, period))


@router.get("/by-model", response_model=ModelBreakdown)
async def by_model(
    session: SessionDep,
    caller: ReaderDep,
    period: Period = "24h",
) -> Response:
    return json_response(await service.by_model(session, caller.tenant_id, period))


@router.get("/projection", response_model=ProjectionRead)
async def projection(
    session: SessionDep,
    caller: ReaderDep,
    lookback_days: Annotated[int, Query(ge=1, le=30)] = 7,
    forecast_days: Annotated[int, Query(ge=1, le=30)] = 7,
) -> Response:
    tenant = caller.tenant_id
    return json_response(await service.projection(session, tenant, lookback_days, forecast_days))


@router.get("/series", response_model=SpendSeries)
async def series(
    session: SessionDep,
    caller: ReaderDep,
    period: Period = "24h",
    group_by: Annotated[Literal["model", "feature"], Query()] = "model",
) -> Response:
    """Spend over time split by model or feature (hourly for 24h, daily for 7d and 30d)."""
    tenant = caller.tenant_id
    return json_response(await service.spend_series(session, tenant, period, group_by))
