"""Routes: /api/v1/workers (catalogue, availability, per-tenant configs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from aos_common.auth import Principal, require_permission
from aos_common.callers import TenantQuery, scoped_tenant
from aos_common.db import SessionDep
from aos_common.envelope import envelope, json_response
from aos_tenants.dependencies import WorkersConfigurerDep, WorkersReaderDep
from aos_tenants.workers import service
from aos_tenants.workers.schemas import (
    AvailableWorker,
    WorkerConfigRead,
    WorkerConfigUpdate,
    WorkerDetail,
    WorkerSummary,
)

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])
WorkerStatusQuery = Annotated[str | None, Query(pattern=r"^(active|beta|deprecated)$")]


def _optional_tenant(principal: Principal, tenant_id: str | None) -> str | None:
    """Operators may browse the catalogue without naming a tenant."""
    if principal.is_operator and tenant_id is None:
        return principal.tenant_id
    return scoped_tenant(principal, tenant_id)


@router.get("", response_model=list[WorkerSummary])
async def list_workers(
    session: SessionDep,
    principal: Principal = require_permission("read:workers"),
    status: WorkerStatusQuery = None,
    tenant_id: TenantQuery = None,
) -> Response:
    tenant = _optional_tenant(principal, tenant_id)
    workers = await service.list_workers(
        session, tenant, status=status, is_operator=principal.is_operator
    )
    return json_response([worker.model_dump(mode="json") for worker in workers])


@router.get("/available")
async def available_workers(
    session: SessionDep,
    caller: WorkersReaderDep,
    include_disabled: bool = False,
) -> Response:
    """(envelope) The workers this tenant may see, with its `enabled` flag."""
    tenant = caller.tenant_id
    workers: list[AvailableWorker] = await service.available_workers(
        session, tenant, include_disabled=include_disabled
    )
    return json_response(envelope([worker.model_dump(mode="json") for worker in workers]))


@router.get("/{worker_id}", response_model=WorkerDetail)
async def get_worker(
    worker_id: str,
    session: SessionDep,
    principal: Principal = require_permission("read:workers"),
    tenant_id: TenantQuery = None,
) -> Response:
    tenant = _optional_tenant(principal, tenant_id)
    worker = await service.get_worker(session, tenant, worker_id, is_operator=principal.is_operator)
    return json_response(worker)


@router.get("/{worker_id}/config", response_model=WorkerConfigRead)
async def get_worker_config(
    worker_id: str,
    session: SessionDep,
    caller: WorkersReaderDep,
) -> Response:
    tenant = caller.tenant_id
    config = await service.get_config(
        session, tenant, worker_id, is_operator=caller.principal.is_operator
    )
    return json_response(config)


@router.put("/{worker_id}/config", response_model=WorkerConfigRead)
async def put_worker_config(
    worker_id: str,
    body: WorkerConfigUpdate,
    session: SessionDep,
    caller: WorkersConfigurerDep,
) -> Response:
    config = await service.put_config(
        session, caller.tenant_id, worker_id, body, is_operator=caller.principal.is_operator
    )
    return json_response(config)
