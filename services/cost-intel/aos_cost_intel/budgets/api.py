"""Routes: /api/v1/cost/budgets, POST /api/v1/cost/guard and GET /internal/v1/cost/guard."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.auth import InternalCallerDep
from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_common.idempotency import idempotent
from aos_cost_intel.budgets import service
from aos_cost_intel.budgets.schemas import (
    BudgetCreate,
    BudgetRead,
    GuardRead,
    GuardRequest,
    KeyBudgetSync,
)
from aos_cost_intel.dependencies import BudgetWriterDep, ReaderDep
from aos_cost_intel.schemas import MAX_CENTS

router = APIRouter(prefix="/api/v1/cost", tags=["cost budgets"])
internal_router = APIRouter(prefix="/internal/v1/cost", tags=["internal"], include_in_schema=False)


@router.post("/budgets", status_code=201, response_model=BudgetRead)
async def upsert_budget(
    body: BudgetCreate,
    request: Request,
    session: SessionDep,
    caller: BudgetWriterDep,
) -> Response:
    """Create (201) or update (200) the budget of (budget_type, entity_id)."""
    tenant = caller.tenant_id

    async def produce() -> Response:
        budget, created = await service.upsert_budget(session, tenant, body, caller.principal)
        kick_outbox_after_commit(request.app, session)
        return json_response(budget, 201 if created else 200)

    return await idempotent(request, session, tenant, produce)


@router.get("/budgets", response_model=list[BudgetRead])
async def list_budgets(
    session: SessionDep,
    caller: ReaderDep,
) -> Response:
    tenant = caller.tenant_id
    budgets = await service.list_budgets(session, tenant)
    return json_response([budget.model_dump(mode="json") for budget in budgets])


@router.post("/guard", response_model=GuardRead)
async def guard(
    body: GuardRequest,
    session: SessionDep,
    caller: ReaderDep,
) -> Response:
    """Pre-flight: may a call of this estimated cost go ahead under the hard budgets?"""
    tenant = caller.tenant_id
    decision = await service.check_guard(
        session,
        tenant,
        feature_tag=body.feature_tag,
        user_id=body.user_id,
        estimated_cost_cents=body.estimated_cost_cents,
        api_key_id=caller.principal.key_id,
    )
    return json_response(decision)


@internal_router.get("/guard", response_model=GuardRead)
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


@internal_router.post("/key-budgets", status_code=201, response_model=BudgetRead)
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
