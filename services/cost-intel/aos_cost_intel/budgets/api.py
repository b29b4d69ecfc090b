"""Routes: /api/v1/cost/budgets and POST /api/v1/cost/guard (the internal guard and key budgets are
in internal/api.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_common.idempotency import idempotent
from aos_cost_intel.budgets import service
from aos_cost_intel.budgets.schemas import (
    BudgetCreate,
    BudgetRead,
    GuardRead,
    GuardRequest,
)
from aos_cost_intel.dependencies import BudgetWriterDep, ReaderDep

router = APIRouter(prefix="/api/v1/cost", tags=["cost budgets"])


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
