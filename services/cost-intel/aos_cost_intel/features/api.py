"""Routes: /api/v1/cost/features."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_common.idempotency import idempotent
from aos_cost_intel.dependencies import ReaderDep, WriterDep
from aos_cost_intel.features import service
from aos_cost_intel.features.schemas import FeatureTagCreate, FeatureTagRead, FeatureTagUpdate

router = APIRouter(prefix="/api/v1/cost", tags=["cost features"])
TagPath = Annotated[str, Path(max_length=128)]


@router.post("/features", status_code=201, response_model=FeatureTagRead)
async def create_feature_tag(
    body: FeatureTagCreate,
    request: Request,
    session: SessionDep,
    caller: WriterDep,
) -> Response:
    tenant = caller.tenant_id

    async def produce() -> Response:
        return json_response(await service.create_tag(session, tenant, body), 201)

    return await idempotent(request, session, tenant, produce)


@router.get("/features", response_model=list[FeatureTagRead])
async def list_feature_tags(
    session: SessionDep,
    caller: ReaderDep,
    include_inactive: bool = False,
) -> Response:
    tenant = caller.tenant_id
    tags = await service.list_tags(session, tenant, include_inactive)
    return json_response([tag.model_dump(mode="json") for tag in tags])


@router.put("/features/{tag}", response_model=FeatureTagRead)
async def update_feature_tag(
    tag: TagPath,
    body: FeatureTagUpdate,
    session: SessionDep,
    caller: WriterDep,
) -> Response:
    tenant = caller.tenant_id
    return json_response(await service.update_tag(session, tenant, tag, body))
