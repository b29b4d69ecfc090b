"""Internal routes `/internal/v1/audit/*` (contracts: the outbox receivers, single and batch, and
bundle evidence)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import TypeAdapter
from starlette.responses import Response

from aos_audit_ledger.dependencies import LedgerDep, SafeText
from aos_audit_ledger.ledger.repository import EntryFilters
from aos_audit_ledger.ledger.schemas import (
    EntityType,
    EntriesWithProofsRead,
    EntryRead,
    InternalEntryCreate,
)
from aos_common.auth import InternalCallerDep
from aos_common.envelope import json_response
from aos_common.outbox_batch import OutboxBatch, OutboxBatchResult, ordered, result, validate_each

router = APIRouter(prefix="/internal/v1/audit", tags=["internal"])
DELIVERED = TypeAdapter(InternalEntryCreate)


@router.post("/entries", status_code=201, response_model=EntryRead)
async def append_entry(
    data: InternalEntryCreate, caller: InternalCallerDep, ledger: LedgerDep
) -> Response:
    """Append an entry delivered by another service's outbox; `id` de-duplicates, so a redelivery
    answers 200 with the entry written the first time."""
    entry, created = await ledger.append(
        data.tenant_id,
        data,
        actor_type=data.actor_type.value,
        actor_id=data.actor_id,
        dedup_key=data.id,
    )
    return json_response(entry, 201 if created else 200)


@router.post("/entries/batch", response_model=OutboxBatchResult)
async def append_entries(
    body: OutboxBatch, caller: InternalCallerDep, ledger: LedgerDep
) -> Response:
    """Many outbox messages in one call, one answer each (aos_common.outbox_batch): an invalid
    entry is refused alone. Tenants are appended in id order, each in the order sent, so two
    batches locking the same tenants never wait on each other in a cycle."""
    valid, answers = validate_each(body.messages, DELIVERED)
    for index, data in sorted(valid, key=lambda pair: pair[1].tenant_id):
        _, created = await ledger.append(
            data.tenant_id,
            data,
            actor_type=data.actor_type.value,
            actor_id=data.actor_id,
            dedup_key=data.id,
        )
        answers.append(result(index, body.messages[index], "stored" if created else "duplicate"))
    return json_response(ordered(answers))


@router.get("/entries", response_model=EntriesWithProofsRead)
async def entries_with_proofs(
    caller: InternalCallerDep,
    ledger: LedgerDep,
    tenant_id: Annotated[SafeText, Query(min_length=1)],
    entity_id: SafeText | None = None,
    entity_type: EntityType | None = None,
    run_id: SafeText | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The newest matching entries, each with an inclusion proof against one signed tree head."""
    filters = EntryFilters(entity_type=entity_type, entity_id=entity_id, run_id=run_id)
    return json_response(await ledger.entries_with_proofs(tenant_id, filters, limit=limit))
