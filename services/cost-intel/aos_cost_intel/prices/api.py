"""Routes: GET/PUT /api/v1/cost/prices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

from aos_common.auth import Principal, require_permission, require_role
from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_cost_intel.prices import service
from aos_cost_intel.prices.schemas import PriceBookLoaded, PriceBookRead

router = APIRouter(prefix="/api/v1/cost", tags=["cost prices"])


@router.get("/prices", response_model=PriceBookRead)
async def get_prices(
    session: SessionDep,
    version: Annotated[str | None, Query(max_length=64)] = None,
    principal: Principal = require_permission("read:cost"),
) -> Response:
    """The current price book (or `?version=`), with every version loaded so far."""
    return json_response(await service.read_book(session, version))


@router.put("/prices", response_model=PriceBookLoaded)
async def put_prices(
    session: SessionDep,
    document: Annotated[dict[str, Any], Body()],
    principal: Principal = require_role("operator"),
) -> Response:
    """Operators load a new price-book version (`{version, prices: [...]}`); it becomes current."""
    return json_response(await service.load_version(session, document, principal.principal_id))
