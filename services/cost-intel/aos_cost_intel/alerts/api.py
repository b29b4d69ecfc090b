"""Routes: PUT/GET /api/v1/cost/webhook, GET /cost/webhook/deliveries (the delivery log),
GET /cost/alerts (alerts fired)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from aos_common.db import SessionDep, driver_connection
from aos_common.envelope import json_response, page_envelope
from aos_common.errors import NotFound
from aos_cost_intel.alerts import repository, service
from aos_cost_intel.alerts.schemas import AlertRead, DeliveryRead, WebhookRead, WebhookSet
from aos_cost_intel.dependencies import BudgetWriterDep, ReaderDep

router = APIRouter(prefix="/api/v1/cost", tags=["cost alerts"])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


@router.put("/webhook", response_model=WebhookRead)
async def set_webhook(
    body: WebhookSet,
    session: SessionDep,
    caller: BudgetWriterDep,
) -> Response:
    """Where budget alerts go; the answer carries the signing secret (generated if not sent)."""
    tenant = caller.tenant_id
    return json_response((await service.set_webhook(session, tenant, body)).model_dump(mode="json"))


@router.get("/webhook", response_model=WebhookRead)
async def get_webhook(
    session: SessionDep,
    caller: ReaderDep,
) -> Response:
    tenant = caller.tenant_id
    found = await service.get_webhook(session, tenant)
    if found is None:
        raise NotFound("No webhook set for this tenant")
    return json_response(found.model_dump(mode="json", exclude={"secret"}))


@router.get("/webhook/deliveries")
async def list_deliveries(
    session: SessionDep,
    caller: ReaderDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """The delivery log, newest first: status, attempts, last answer or error, the body sent."""
    tenant = caller.tenant_id
    conn = await driver_connection(session)
    rows, total = await repository.list_deliveries(conn, tenant, status, limit, offset)
    data = [DeliveryRead.model_validate(dict(row)).model_dump(mode="json") for row in rows]
    return json_response(page_envelope(data, total=total, limit=limit, offset=offset))


@router.get("/alerts")
async def list_alerts(
    session: SessionDep,
    caller: ReaderDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Budget alerts fired, newest first (one per budget, period window and threshold)."""
    tenant = caller.tenant_id
    conn = await driver_connection(session)
    rows, total = await repository.list_alerts(conn, tenant, limit, offset)
    data = [
        AlertRead(
            budget_id=row["budget_id"],
            period=row["period"],
            window_start=row["window_start"],
            threshold_pct=row["threshold"],
            spend_cents=row["spend_cents"],
            limit_cents=row["limit_cents"],
            fired_at=row["fired_at"],
        ).model_dump(mode="json")
        for row in rows
    ]
    return json_response(page_envelope(data, total=total, limit=limit, offset=offset))
