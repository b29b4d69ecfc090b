"""Public routes `/api/v1/audit/*` (API.md audit-ledger section). Thin: scope, validate, delegate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from aos_audit_ledger.dependencies import (
    LedgerDep,
    PublicKeyReaderDep,
    ReaderDep,
    SafeText,
    SignerDep,
    VerifierDep,
    WriterDep,
)
from aos_audit_ledger.ledger.repository import EntryFilters
from aos_audit_ledger.ledger.schemas import (
    ActorType,
    ConsistencyProofRead,
    EntityHistoryRead,
    EntityType,
    EntryCreate,
    EntryRead,
    EventType,
    InclusionProofRead,
    PublicKeyRead,
    PublicKeySetRead,
    PublishedKeyRead,
    RunSignalsRead,
    SignalFeedbackRead,
    TreeHeadRead,
    VerifyRead,
)
from aos_audit_ledger.ledger.service import LedgerService
from aos_audit_ledger.ledger.signing import public_key_pem
from aos_common.auth import Principal
from aos_common.bounds import OffsetQuery, OptionalSequenceQuery, SequenceQuery
from aos_common.db import SessionDep
from aos_common.envelope import PageEnvelope, json_response, page_envelope
from aos_common.idempotency import idempotent

router = APIRouter(prefix="/api/v1/audit", tags=["audit-ledger"])

Limit = Annotated[int, Query(ge=1, le=500)]
PathText = Annotated[SafeText, Path(min_length=1, max_length=255)]


def _utc(moment: datetime | None) -> datetime | None:
    """Times without an offset are read as UTC, as API.md writes every timestamp."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def default_actor(principal: Principal) -> tuple[str, str]:
    kind = ActorType.HUMAN if principal.principal_type in ("user", "operator") else ActorType.AGENT
    if principal.principal_type == "service":
        kind = ActorType.SYSTEM
    return kind.value, principal.principal_id


@dataclass(frozen=True)
class HistoryPage:
    """A page of an oldest-first history (an entity's entries, a signal's feedback, a run's
    signals): the three reads share their caller, paging and order, and differ in filters."""

    tenant_id: str
    ledger: LedgerService
    limit: int
    offset: int

    async def entries(self, filters: EntryFilters) -> tuple[list[EntryRead], int]:
        return await self.ledger.list_entries(
            self.tenant_id, filters, limit=self.limit, offset=self.offset, newest_first=False
        )


def history_page(
    caller: ReaderDep, ledger: LedgerDep, limit: Limit = 100, offset: OffsetQuery = 0
) -> HistoryPage:
    return HistoryPage(caller.tenant_id, ledger, limit, offset)


HistoryDep = Annotated[HistoryPage, Depends(history_page)]


@router.post("/entries", status_code=201, response_model=EntryRead)
async def create_entry(
    data: EntryCreate,
    request: Request,
    session: SessionDep,
    caller: WriterDep,
    ledger: LedgerDep,
) -> Response:
    tenant = caller.tenant_id
    actor_type, actor_id = default_actor(caller.principal)

    async def produce() -> Response:
        entry, _ = await ledger.append(
            tenant,
            data,
            actor_type=data.actor_type.value if data.actor_type else actor_type,
            actor_id=data.actor_id or actor_id,
        )
        return json_response(entry, 201)

    return await idempotent(request, session, tenant, produce)


@router.get("/entries", response_model=PageEnvelope[list[EntryRead]])
async def list_entries(
    caller: ReaderDep,
    ledger: LedgerDep,
    event_type: EventType | None = None,
    entity_type: EntityType | None = None,
    entity_id: SafeText | None = None,
    actor_type: ActorType | None = None,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Limit = 50,
    offset: OffsetQuery = 0,
) -> Response:
    tenant = caller.tenant_id
    filters = EntryFilters(
        event_type=event_type,
        entity_type=entity_type,
        entity_id=entity_id,
        actor_type=actor_type,
        created_from=_utc(created_from),
        created_to=_utc(created_to),
    )
    entries, total = await ledger.list_entries(tenant, filters, limit=limit, offset=offset)
    return json_response(page_envelope(entries, total=total, limit=limit, offset=offset))


@router.get("/entities/{entity_type}/{entity_id}", response_model=EntityHistoryRead)
async def entity_history(
    entity_type: EntityType,
    entity_id: PathText,
    history: HistoryDep,
) -> Response:
    """Everything recorded about one entity, oldest first."""
    filters = EntryFilters(entity_type=entity_type, entity_id=entity_id)
    entries, total = await history.entries(filters)
    return json_response(
        EntityHistoryRead(
            entity_type=entity_type, entity_id=entity_id, total=total, entries=entries
        )
    )


@router.get("/signals/{signal_id}/feedback", response_model=SignalFeedbackRead)
async def signal_feedback(signal_id: PathText, history: HistoryDep) -> Response:
    """What people and systems did about a signal (acknowledged, suppressed, escalated), oldest
    first."""
    filters = EntryFilters(entity_type=EntityType.SIGNAL, entity_id=signal_id)
    entries, total = await history.entries(filters)
    return json_response(SignalFeedbackRead(signal_id=signal_id, total=total, feedback=entries))


@router.get("/runs/{run_id}/signals", response_model=RunSignalsRead)
async def run_signals(run_id: PathText, history: HistoryDep) -> Response:
    """Signal entries whose state names this run (`run_id` in after_state or before_state)."""
    filters = EntryFilters(entity_type=EntityType.SIGNAL, run_id=run_id)
    entries, total = await history.entries(filters)
    return json_response(RunSignalsRead(run_id=run_id, total=total, signals=entries))


@router.get("/verify", response_model=VerifyRead)
async def verify(
    caller: ReaderDep,
    verifier: VerifierDep,
    from_seq: OptionalSequenceQuery = None,
    to_seq: OptionalSequenceQuery = None,
) -> Response:
    tenant = caller.tenant_id
    return json_response(await verifier.verify(tenant, from_seq, to_seq))


@router.get("/tree-head", response_model=TreeHeadRead)
async def tree_head(caller: ReaderDep, ledger: LedgerDep) -> Response:
    head = await ledger.tree_head(caller.tenant_id)
    return json_response(TreeHeadRead(**head.model_dump()))


@router.get("/public-key", response_model=PublicKeyRead)
async def public_key(principal: PublicKeyReaderDep, signer: SignerDep) -> Response:
    return json_response(
        PublicKeyRead(
            key_id=signer.key_id,
            public_key=signer.public_key_b64,
            public_key_pem=signer.public_key_pem,
        )
    )


@router.get("/public-keys", response_model=PublicKeySetRead)
async def public_keys(principal: PublicKeyReaderDep, signer: SignerDep) -> Response:
    """Retired keys stay here after a rotation, so a head signed by any of them still verifies:
    pick the key whose key_id the head names."""
    return json_response(
        PublicKeySetRead(
            keys=[
                PublishedKeyRead(
                    key_id=key_id,
                    public_key=key,
                    public_key_pem=public_key_pem(key),
                    current=current,
                )
                for key_id, key, current in signer.published()
            ]
        )
    )


@router.get("/proof/inclusion", response_model=InclusionProofRead)
async def inclusion_proof(
    caller: ReaderDep,
    ledger: LedgerDep,
    seq: SequenceQuery,
    tree_size: OptionalSequenceQuery = None,
) -> Response:
    tenant = caller.tenant_id
    return json_response(await ledger.inclusion_proof(tenant, seq, tree_size))


@router.get("/proof/consistency", response_model=ConsistencyProofRead)
async def consistency_proof(
    caller: ReaderDep,
    ledger: LedgerDep,
    first: SequenceQuery,
    second: OptionalSequenceQuery = None,
) -> Response:
    tenant = caller.tenant_id
    return json_response(await ledger.consistency_proof(tenant, first, second))
