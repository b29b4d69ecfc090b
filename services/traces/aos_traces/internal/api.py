"""Internal read routes for guard-logs (docs/API.md): signed service context required, the
tenant named by the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from aos_common.auth import InternalCallerDep
from aos_common.db import SessionDep
from aos_common.envelope import json_response
from aos_traces.dependencies import iso_param
from aos_traces.evidence import service as evidence
from aos_traces.state import traces_state
from aos_traces.traces import service
from aos_traces.traces.schemas import TraceFilters

router = APIRouter(prefix="/internal/v1/traces", tags=["internal"])
TenantParam = Annotated[str, Query(min_length=1, max_length=64)]


def _filters(
    agent_id: str | None, status: str | None, from_date: str | None, to_date: str | None
) -> TraceFilters:
    return TraceFilters(
        agent_id=agent_id,
        status=status,
        from_date=iso_param(from_date, "from_date"),
        to_date=iso_param(to_date, "to_date"),
    )


@router.get("/logs")
async def logs(
    _: InternalCallerDep,
    session: SessionDep,
    tenant_id: TenantParam,
    agent_id: str | None = None,
    status: str | None = None,
    from_date: str | None = None,
    to_date: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    listed = await service.list_traces(
        session, tenant_id, _filters(agent_id, status, from_date, to_date), limit, offset
    )
    return json_response({"items": listed["items"], "total": listed["total"]})


@router.get("/logs/stream")
async def logs_stream(
    request: Request,
    _: InternalCallerDep,
    tenant_id: TenantParam,
    agent_id: str | None = None,
    status: str | None = None,
    from_date: str | None = None,
    to_date: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """One summary per line, read through a server-side cursor on its own connection."""
    filters = _filters(agent_id, status, from_date, to_date)
    engine = traces_state(request.app).engine

    async def lines() -> AsyncIterator[bytes]:
        """Rows are serialised in chunks: one write per ~500 rows rather than one per row."""
        chunk: list[bytes] = []
        async with engine.connect() as connection:
            async for summary in service.stream_traces(
                connection, tenant_id, filters, limit, offset
            ):
                chunk.append(orjson.dumps(summary, option=orjson.OPT_UTC_Z))
                if len(chunk) >= 500:
                    yield b"\n".join(chunk) + b"\n"
                    chunk = []
        if chunk:
            yield b"\n".join(chunk) + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/{run_id}/integrity")
async def integrity(
    run_id: str, _: InternalCallerDep, session: SessionDep, tenant_id: TenantParam
) -> Response:
    return json_response(await evidence.integrity(session, tenant_id, run_id))


@router.get("/{run_id}")
async def trace_document(
    run_id: str, _: InternalCallerDep, session: SessionDep, tenant_id: TenantParam
) -> Response:
    return json_response(await service.get_document(session, tenant_id, run_id))
