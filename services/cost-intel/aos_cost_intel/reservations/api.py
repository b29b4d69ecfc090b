"""Routes: /api/v1/cost/reservations (authorize), /{id}/settle, /{id}/release, reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from aos_common.bounds import OffsetQuery
from aos_common.db import SessionDep, driver_connection
from aos_common.envelope import PageEnvelope, json_response, page_envelope
from aos_common.idempotency import idempotent
from aos_cost_intel.dependencies import ReaderDep, WriterDep
from aos_cost_intel.reservations import listing, service
from aos_cost_intel.reservations.closing import CloseJob, transaction
from aos_cost_intel.reservations.schemas import (
    ReservationCreate,
    ReservationListed,
    ReservationRead,
    SettleRead,
    SettleRequest,
    Status,
)
from aos_cost_intel.state import cost_intel_state

router = APIRouter(prefix="/api/v1/cost/reservations", tags=["cost reservations"])
ReservationId = Annotated[str, Path(min_length=1, max_length=32)]


async def once_per_key(
    request: Request,
    tenant: str,
    produce: Callable[[AsyncSession | None], Awaitable[Response]],
    *,
    needs_session: bool = False,
) -> Response:
    """`produce` at most once per Idempotency-Key (the key and its reply in a transaction of
    their own). Holds are decided and closed outside the request's transaction (the batchers),
    so a call without a key opens no session at all unless `needs_session`: about a fifth of a
    settle's CPU (bench/reservations.py's in-process profile)."""
    if not needs_session and "idempotency-key" not in request.headers:
        return await produce(None)
    async with transaction(cost_intel_state(request.app).sessionmaker) as session:
        return await idempotent(request, session, tenant, lambda: produce(session))


@router.post("", status_code=201, response_model=ReservationRead)
async def create_reservation(
    body: ReservationCreate,
    request: Request,
    caller: WriterDep,
) -> Response:
    """Hold the estimated cost on every applicable hard budget, or 402 naming the budget."""
    batcher = cost_intel_state(request.app).reservation_batcher

    async def produce(session: AsyncSession | None) -> Response:
        held = await service.reserve(session, batcher, caller.tenant_id, body, caller.principal)
        return json_response(held.model_dump(mode="json"), 201)

    # A feature tag is classified on the request's session.
    return await once_per_key(
        request, caller.tenant_id, produce, needs_session=bool(body.feature_tag)
    )


async def close_reservation(request: Request, job: CloseJob) -> Response:
    """Settle or release through the close batcher: the two routes differ only in the charge
    the job carries."""

    async def produce(_session: AsyncSession | None) -> Response:
        closed = await cost_intel_state(request.app).close_batcher.close(job)
        return json_response(closed.model_dump(mode="json"), 200)

    return await once_per_key(request, job.tenant_id, produce)


@router.post("/{reservation_id}/settle", response_model=SettleRead)
async def settle_reservation(
    reservation_id: ReservationId,
    body: SettleRequest,
    request: Request,
    caller: WriterDep,
) -> Response:
    """Record the actual cost (in full) and take the hold off; 409 once no longer held."""
    return await close_reservation(request, CloseJob(caller.tenant_id, reservation_id, body))


@router.post("/{reservation_id}/release", response_model=ReservationRead)
async def release_reservation(
    reservation_id: ReservationId,
    request: Request,
    caller: WriterDep,
) -> Response:
    """Take the hold off without a charge; 409 once no longer held."""
    return await close_reservation(request, CloseJob(caller.tenant_id, reservation_id, None))


@router.get("/{reservation_id}", response_model=ReservationRead)
async def read_reservation(
    reservation_id: ReservationId,
    session: SessionDep,
    caller: ReaderDep,
) -> Response:
    tenant = caller.tenant_id
    found = await service.get(session, tenant, reservation_id)
    return json_response(found.model_dump(mode="json"))


@router.get("", response_model=PageEnvelope[list[ReservationListed]])
async def list_reservations(
    session: SessionDep,
    caller: ReaderDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> Response:
    """Newest first, each with the budgets it sits on; `status` filters (held, settled,
    released, expired)."""
    tenant = caller.tenant_id
    conn = await driver_connection(session)
    data, total = await listing.list_page(conn, tenant, status, limit, offset)
    return json_response(page_envelope(data, total=total, limit=limit, offset=offset))
