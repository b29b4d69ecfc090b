"""Routes: /api/v1/runs (start, complete, read, list)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_common.idempotency import idempotent
from aos_tenants.dependencies import RunCompleterDep, RunsReaderDep, RunStarterDep
from aos_tenants.runs import service
from aos_tenants.runs.schemas import RunCreate, RunCreated, RunRead, RunStatus, RunUpdate
from aos_tenants.state import tenants_state

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@router.post("", status_code=201, response_model=RunCreated)
async def start_run(
    body: RunCreate,
    request: Request,
    session: SessionDep,
    caller: RunStarterDep,
) -> Response:
    """Admitted only within the tenant's quotas: 429 (daily, concurrency) or 402 (hard budget)."""
    tenant = caller.tenant_id

    async def produce() -> Response:
        created = await service.start_run(
            session,
            tenant,
            body,
            principal=caller.principal,
            cost_guard=tenants_state(request.app).cost_guard,
        )
        return json_response(created, 201)

    return await idempotent(request, session, tenant, produce)


@router.patch("/{run_id}", response_model=RunRead)
async def complete_run(
    run_id: str,
    body: RunUpdate,
    session: SessionDep,
    caller: RunCompleterDep,
) -> Response:
    tenant = caller.tenant_id
    return json_response(await service.complete_run(session, tenant, run_id, body))


@router.get("", response_model=list[RunRead])
async def list_runs(
    session: SessionDep,
    caller: RunsReaderDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    status: RunStatus | None = None,
    worker_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    tenant = caller.tenant_id
    runs = await service.list_runs(
        session, tenant, limit=limit, offset=offset, status=status, worker_id=worker_id
    )
    return json_response([run.model_dump(mode="json") for run in runs])


@router.get("/{run_id}", response_model=RunRead)
async def get_run(
    run_id: str,
    session: SessionDep,
    caller: RunsReaderDep,
) -> Response:
    tenant = caller.tenant_id
    return json_response(await service.get_run(session, tenant, run_id))
