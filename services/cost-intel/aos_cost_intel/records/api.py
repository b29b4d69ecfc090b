"""Routes: POST /api/v1/cost/record, /cost/records/batch, /cost/reprice and the internal
record (single and outbox batch) and run routes of docs/API.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, cast

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.auth import (
    InternalCallerDep,
)
from aos_common.db import SessionDep, driver_connection
from aos_common.envelope import envelope, json_response
from aos_common.errors import PayloadTooLarge, Unprocessable
from aos_common.idempotency import idempotent
from aos_common.outbox_batch import OutboxBatchResult, ordered, read_batch
from aos_cost_intel.dependencies import AdminDep, WriterDep
from aos_cost_intel.domain.money import exact_sum, plain
from aos_cost_intel.records import repository
from aos_cost_intel.records.deliveries import record_delivered
from aos_cost_intel.records.reprice import reprice
from aos_cost_intel.records.schemas import (
    MAX_BATCH,
    BatchResult,
    CostRecordBatch,
    CostRecordCreate,
    CostRecordIn,
    CostRecordRead,
    InternalCostRecordCreate,
    RecordResult,
    RepriceRequest,
    RepriceResult,
    RunCostRead,
)
from aos_cost_intel.records.service import Outcome, record_and_render, record_costs, total_of
from aos_cost_intel.reservations.service import record_against
from aos_cost_intel.state import cost_intel_state

router = APIRouter(tags=["cost records"])
internal_router = APIRouter(prefix="/internal/v1/cost", tags=["internal"], include_in_schema=False)


def _result(outcome: Outcome) -> RecordResult:
    return RecordResult(
        id=outcome.id,
        cost_cents=outcome.cost_cents,
        price_version=outcome.price_version,
        duplicate=outcome.duplicate,
    )


async def _record_one(
    request: Request,
    session: SessionDep,
    tenant: str,
    item: CostRecordCreate,
    key_id: str | None = None,
) -> Outcome:
    """`key_id`: the API key that made the record, whose budget it counts toward."""
    record = cast(CostRecordIn, item.model_dump())
    prices = cost_intel_state(request.app).prices
    if record.get("reservation_id"):
        return await record_against(session, tenant, record, prices, key_id=key_id)
    [outcome] = await record_costs(session, tenant, [record], prices, key_id=key_id)
    return outcome


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
        outcome = await _record_one(request, session, tenant, body, caller.principal.key_id)
        payload = _result(outcome).model_dump(mode="json")
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


@internal_router.post("/records", status_code=201)
async def internal_record(
    body: InternalCostRecordCreate, request: Request, session: SessionDep, caller: InternalCallerDep
) -> Response:
    """From peers (the traces outbox): exactly-once per request_id, else per outbox message id."""
    item = body
    if body.request_id is None and body.id:
        item = body.model_copy(update={"request_id": f"outbox:{body.id}"})
    outcome = await _record_one(request, session, body.tenant_id, item)
    return json_response(_result(outcome), 200 if outcome.duplicate else 201)


@internal_router.post("/records/batch", response_model=OutboxBatchResult)
async def internal_record_batch(
    request: Request, session: SessionDep, caller: InternalCallerDep
) -> Response:
    """Many outbox messages in one call, one answer each: a refused message leaves the others
    stored (see aos_common.outbox_batch). The body (an OutboxBatch) is read by `read_batch`."""
    body = await read_batch(request)
    answers = await record_delivered(session, body.messages, cost_intel_state(request.app).prices)
    return json_response(ordered(answers))


@internal_router.get("/runs/{run_id}", response_model=RunCostRead)
async def internal_run_costs(
    run_id: Annotated[str, Path(min_length=1, max_length=256)],
    session: SessionDep,
    caller: InternalCallerDep,
    tenant_id: Annotated[str, Query(min_length=1, max_length=64)],
) -> Response:
    conn = await driver_connection(session)
    rows = await repository.records_for_run(conn, tenant_id, run_id)
    records = [CostRecordRead.model_validate(dict(row)) for row in rows]
    result = RunCostRead(
        run_id=run_id, records=records, total_cost_cents=exact_sum(r.cost_cents for r in records)
    )
    return json_response(result)
