"""Routes: POST /api/v1/cost/record, /cost/records/batch and /cost/reprice (the internal record
and run routes are in internal/api.py)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.db import SessionDep
from aos_common.envelope import envelope, json_response
from aos_common.errors import PayloadTooLarge, Unprocessable
from aos_common.idempotency import idempotent
from aos_cost_intel.dependencies import AdminDep, WriterDep
from aos_cost_intel.domain.money import plain
from aos_cost_intel.records.deliveries import record_one, to_result
from aos_cost_intel.records.reprice import reprice
from aos_cost_intel.records.schemas import (
    MAX_BATCH,
    BatchResult,
    CostRecordBatch,
    CostRecordCreate,
    RepriceRequest,
    RepriceResult,
)
from aos_cost_intel.records.service import Outcome, record_and_render, total_of
from aos_cost_intel.state import cost_intel_state

router = APIRouter(tags=["cost records"])


@router.post("/api/v1/cost/record", status_code=201)
async def record_cost(
    body: CostRecordCreate,
    request: Request,
    session: SessionDep,
    caller: WriterDep,
) -> Response:
    """(envelope) A repeated request_id answers 200 with the record stored the first time."""
    tenant = caller.tenant_id

    async def produce() -> Response:
        outcome = await record_one(
            session,
            tenant,
            body,
            cost_intel_state(request.app).prices,
            key_id=caller.principal.key_id,
        )
        payload = to_result(outcome).model_dump(mode="json")
        return json_response(envelope(payload), 200 if outcome.duplicate else 201)

    return await idempotent(request, session, tenant, produce)


@router.post("/api/v1/cost/records/batch", status_code=201, response_model=BatchResult)
async def record_batch(
    body: CostRecordBatch,
    request: Request,
    session: SessionDep,
    caller: WriterDep,
) -> Response:
    """Up to 10,000 records in one transaction (COPY): all are stored or none."""
    tenant = caller.tenant_id
    records = body["records"]
    if len(records) > MAX_BATCH:
        raise PayloadTooLarge(f"A batch holds at most {MAX_BATCH:,} records")
    for index, record in enumerate(records):
        if record.get("reservation_id"):
            raise Unprocessable(
                "reservation_id is taken on single records only; settle a reservation with "
                "POST /api/v1/cost/reservations/{id}/settle",
                extra={
                    "errors": [
                        {
                            "field": f"records.{index}.reservation_id",
                            "message": "not accepted in a batch",
                        }
                    ]
                },
            )

    async def produce() -> Response:
        return await record_and_render(
            session,
            tenant,
            records,
            cost_intel_state(request.app).prices,
            _batch_response,
            field_prefix="records.",
            key_id=caller.principal.key_id,
        )

    return await idempotent(request, session, tenant, produce)


def _batch_response(outcomes: Sequence[Outcome]) -> Response:
    """The BatchResult of `outcomes`, built as plain dicts: 10,000 pydantic items cost more than
    the database work of the batch."""
    items = [
        {
            "index": index,
            "id": o.id,
            "status": "duplicate" if o.duplicate else "recorded",
            "cost_cents": plain(o.cost_cents),
            "price_version": o.price_version,
        }
        for index, o in enumerate(outcomes)
    ]
    duplicates = sum(1 for o in outcomes if o.duplicate)
    result = {
        "recorded_count": len(outcomes) - duplicates,
        "duplicate_count": duplicates,
        "total_cost_cents": plain(total_of(outcomes)),
        "records": items,
    }
    return json_response(result, 201)


@router.post("/api/v1/cost/reprice", response_model=RepriceResult)
async def reprice_window(
    body: RepriceRequest,
    request: Request,
    session: SessionDep,
    caller: AdminDep,
) -> Response:
    tenant = caller.tenant_id
    result = await reprice(session, tenant, body, caller.principal)
    kick_outbox_after_commit(request.app, session)
    return json_response(result.model_dump(mode="json", by_alias=True))
