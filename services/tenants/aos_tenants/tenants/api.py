"""Routes: /api/v1/tenants (operator), /api/v1/tenant (the caller's tenant), usage, quotas, health."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.auth import Principal, require_permission, require_role
from aos_common.callers import scoped_tenant
from aos_common.db import SessionDep
from aos_common.envelope import Envelope, envelope, json_response
from aos_common.idempotency import idempotent
from aos_tenants.dependencies import QuotaReaderDep, TenantReaderDep, UsageReaderDep
from aos_tenants.state import tenants_state
from aos_tenants.tenants import service
from aos_tenants.tenants.schemas import (
    HealthRead,
    QuotaRead,
    TenantCreate,
    TenantCreatedRead,
    TenantRead,
    TenantUpdate,
    UsageRead,
)

router = APIRouter(tags=["tenants"])
VERSION = "0.1.0"
FEATURES = [
    "api_keys",
    "console_tokens",
    "forward_auth",
    "quotas",
    "runs",
    "usage",
    "workers",
]


def redact_initial_key(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "initial_api_key": {**body["initial_api_key"], "key": None}}


@router.post("/api/v1/tenants", status_code=201, response_model=TenantCreatedRead)
async def create_tenant(
    body: TenantCreate,
    request: Request,
    session: SessionDep,
    principal: Principal = require_role("operator"),
) -> Response:
    """Operators only. The reply's `initial_api_key.key` is the only time that key is shown."""

    async def produce() -> Response:
        created = await service.create_tenant(session, body, actor=principal)
        kick_outbox_after_commit(request.app, session)
        return json_response(created, 201)

    return await idempotent(
        request, session, "platform-operator", produce, redact=redact_initial_key
    )


@router.get("/api/v1/tenants/{tenant_id}", response_model=TenantRead)
async def read_tenant_by_id(
    tenant_id: str, session: SessionDep, principal: Principal = require_permission("read:tenant")
) -> Response:
    tenant = scoped_tenant(principal, tenant_id)
    return json_response(service.to_read(await service.get_tenant(session, tenant)))


@router.patch("/api/v1/tenants/{tenant_id}", response_model=TenantRead)
async def update_tenant(
    tenant_id: str,
    body: TenantUpdate,
    session: SessionDep,
    principal: Principal = require_role("operator"),
) -> Response:
    return json_response(await service.update_tenant(session, tenant_id, body))


@router.get("/api/v1/tenant/health", response_model=Envelope[HealthRead])
async def health() -> Response:
    """(envelope) No credential needed: liveness of the tenant API for the console."""
    return json_response(envelope({"status": "healthy", "version": VERSION, "features": FEATURES}))


@router.get("/api/v1/tenant", response_model=TenantRead)
async def read_tenant(
    session: SessionDep,
    caller: TenantReaderDep,
) -> Response:
    tenant = caller.tenant_id
    return json_response(service.to_read(await service.get_tenant(session, tenant)))


@router.get("/api/v1/tenant/usage", response_model=UsageRead)
async def read_usage(
    session: SessionDep,
    caller: UsageReaderDep,
    period: Literal["24h", "7d", "30d"] = "30d",
) -> Response:
    tenant = caller.tenant_id
    return json_response(await service.usage(session, tenant, period))


@router.get("/api/v1/tenant/quota/runs", response_model=QuotaRead)
async def run_quota(
    request: Request,
    session: SessionDep,
    caller: QuotaReaderDep,
) -> Response:
    tenant = caller.tenant_id
    decision = await service.run_quota_for(session, tenant)
    if decision.allowed:
        budget_id = await tenants_state(request.app).cost_guard.exhausted_budget(tenant)
        if budget_id is not None:
            decision = await service.run_quota_for(session, tenant, exhausted_budget_id=budget_id)
    return json_response(decision.as_dict())


@router.get("/api/v1/tenant/quota/tokens", response_model=QuotaRead)
async def token_quota(
    session: SessionDep,
    caller: QuotaReaderDep,
    tokens_needed: Annotated[int, Query(ge=1, le=10**15)] = 10_000,
) -> Response:
    tenant = caller.tenant_id
    decision = await service.token_quota_for(session, tenant, tokens_needed)
    return json_response(decision.as_dict())
