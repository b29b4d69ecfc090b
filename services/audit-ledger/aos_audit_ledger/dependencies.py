"""Per-request wiring: the ledger service on the request's session, plus shared query types.

Dependencies are `async def` so FastAPI does not hand them to its thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import AfterValidator

from aos_audit_ledger.ledger.schemas import storable_text
from aos_audit_ledger.ledger.service import LedgerService
from aos_audit_ledger.ledger.signing import TreeHeadSigner
from aos_audit_ledger.ledger.verification import LedgerVerifier
from aos_audit_ledger.state import audit_ledger_state
from aos_common.auth import Principal, require_permission
from aos_common.callers import Caller, caller_with_permission
from aos_common.db import SessionDep

READ_AUDIT = "read:audit"
WRITE_AUDIT = "audit:write"


async def get_signer(request: Request) -> TreeHeadSigner:
    signer: TreeHeadSigner = audit_ledger_state(request.app).signer
    return signer


SignerDep = Annotated[TreeHeadSigner, Depends(get_signer)]


async def get_ledger(session: SessionDep, signer: SignerDep) -> LedgerService:
    return LedgerService(session, signer)


async def get_verifier(ledger: Annotated[LedgerService, Depends(get_ledger)]) -> LedgerVerifier:
    return LedgerVerifier(ledger.repository, ledger.signer)


LedgerDep = Annotated[LedgerService, Depends(get_ledger)]
VerifierDep = Annotated[LedgerVerifier, Depends(get_verifier)]
ReaderDep = Annotated[Caller, caller_with_permission(READ_AUDIT)]
WriterDep = Annotated[Caller, caller_with_permission(WRITE_AUDIT)]
# The public keys are the same for every tenant: no tenant to name, operators included.
PublicKeyReaderDep = Annotated[Principal, require_permission(READ_AUDIT)]


def _text(value: str | None) -> str | None:
    return storable_text(value)


SafeText = Annotated[str, AfterValidator(_text)]
