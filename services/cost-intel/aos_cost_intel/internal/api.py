"""Every internal route of cost-intel (`/internal/v1/cost/*`, services only): cost records from
peers' outboxes (single and batch), a run's costs for guard-logs' bundles, the budget guard for the
tenants service and the gateway, and API keys' own budgets from the tenants outbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.auth import InternalCallerDep
from aos_common.db import SessionDep, driver_connection
from aos_common.envelope import json_response
from aos_common.outbox_batch import OutboxBatchResult, ordered, read_batch
from aos_cost_intel.budgets import service
from aos_cost_intel.budgets.schemas import BudgetCreate, BudgetRead, GuardRead, KeyBudgetSync
from aos_cost_intel.domain.money import exact_sum
from aos_cost_intel.records import repository
from aos_cost_intel.records.deliveries import record_delivered, record_one, to_result
from aos_cost_intel.records.schemas import CostRecordRead, InternalCostRecordCreate, RunCostRead
from aos_cost_intel.schemas import MAX_CENTS
from aos_cost_intel.state import cost_intel_state

router = APIRouter(prefix="/internal/v1/cost", tags=["internal"], include_in_schema=False)


@router.post("/records", status_code=201)
async def internal_record(
    body: InternalCostRecordCreate, request: Request, session: SessionDep, caller: InternalCallerDep
) -> Response:
    """From peers (the traces outbox): exactly-once per request_id, else per outbox message id."""
    item = body
    if body.request_id is None and body.id:
        item = body.model_copy(update={"request_id": f"outbox:{body.id}"})
    outcome = await record_one(session, body.tenant_id, item, cost_intel_state(request.app).prices)
    return json_response(to_result(outcome), 200 if outcome.duplicate else 201)


@router.post("/records/batch", response_model=OutboxBatchResult)
async def internal_record_batch(
    request: Request, session: SessionDep, caller: InternalCallerDep
) -> Response:
    """Many outbox messages in one call, one answer each: a refused message leaves the others
    stored (see aos_common.outbox_batch). The body (an OutboxBatch) is read by `read_batch`."""
    body = await read_batch(request)
    answers = await record_delivered(session, body.messages, cost_intel_state(request.app).prices)
    return json_response(ordered(answers))


@router.get("/runs/{run_id}", response_model=RunCostRead)
async def internal_run_costs(
    run_id: Annotated[str, Path(min_length=1, max_length=256)],
    session: SessionDep,
    caller: InternalCallerDep,
    tenant_id: Annotated[str, Query(min_length=1, max_length=64)],
) -> Response:
    conn = await driver_connection(session)
    rows = await repository.records_for_run(conn, tenant_id, run_id)
    records = [CostRecordRead.model_validate(dict(row)) for row in rows]
    result = RunCostRead(
        run_id=run_id, records=records, total_cost_cents=exact_sum(r.cost_cents for r in records)
    )
    return json_response(result)


@router.get("/guard", response_model=GuardRead)
async def internal_guard(
    session: SessionDep,
    caller: InternalCallerDep,
    tenant_id: Annotated[str, Query(min_length=1, max_length=64)],
    estimated_cost_cents: Annotated[Decimal, Query(ge=0, le=MAX_CENTS)] = Decimal(0),
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    feature_tag: Annotated[str | None, Query(max_length=256)] = None,
    api_key_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """For the tenants service's run quota and the gateway: refused with "Budget exhausted:
    <id>"; `on_unavailable` tells the caller what to do while this route cannot be asked."""
    decision = await service.check_guard(
        session,
        tenant_id,
        feature_tag=feature_tag,
        user_id=user_id,
        estimated_cost_cents=estimated_cost_cents,
        api_key_id=api_key_id,
    )
    return json_response(decision)


@router.post("/key-budgets", status_code=201, response_model=BudgetRead)
async def sync_key_budget(
    body: KeyBudgetSync, request: Request, session: SessionDep, caller: InternalCallerDep
) -> Response:
    """From the tenants outbox: an API key's own budget, enforced as a hard `api_key` budget
    (upserted, so a redelivery changes nothing)."""
    budget = BudgetCreate.model_validate(
        {
            "budget_type": "api_key",
            "entity_id": body.key_id,
            "hard_limit_enabled": True,
            f"{body.period}_limit_cents": body.limit_cents,
        }
    )
    read, created = await service.upsert_budget(session, body.tenant_id, budget, caller)
    kick_outbox_after_commit(request.app, session)
    return json_response(read, 201 if created else 200)
