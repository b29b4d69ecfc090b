"""Routes: /api/v1/cost/dashboard, summary, by-feature, by-user, by-model, series, projection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
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


PeriodReport = Callable[[AsyncSession, str, str], Awaitable[BaseModel]]


def add_period_report(path: str, name: str, model: type[BaseModel], report: PeriodReport) -> None:
    """Register GET `path`: the tenant's `report` over `period`. The five period reports share
    this one route body; `name` keeps each route's operation id and summary as they were."""

    async def route(session: SessionDep, caller: ReaderDep, period: Period = "24h") -> Response:
        return json_response(await report(session, caller.tenant_id, period))

    router.add_api_route(path, route, methods=["GET"], response_model=model, name=name)


add_period_report("/dashboard", "dashboard", DashboardRead, service.dashboard)
add_period_report("/summary", "summary", SummaryRead, service.summary)
add_period_report("/by-feature", "by_feature", FeatureBreakdown, service.by_feature)
add_period_report("/by-user", "by_user", UserBreakdown, service.by_user)
add_period_report("/by-model", "by_model", ModelBreakdown, service.by_model)


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
