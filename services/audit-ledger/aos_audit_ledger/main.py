"""The audit-ledger service app: hash-chained, Merkle-proved, signed audit ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from aos_audit_ledger.internal import api as internal_api
from aos_audit_ledger.ledger import api
from aos_audit_ledger.ledger.signing import load_signer
from aos_audit_ledger.models import idempotency_keys, outbox
from aos_audit_ledger.settings import AuditLedgerSettings
from aos_audit_ledger.state import AuditLedgerState, audit_ledger_state
from aos_common.app import create_service_app


def create_app(
    settings: AuditLedgerSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or AuditLedgerSettings()

    @asynccontextmanager
    async def signing_key(app: FastAPI) -> AsyncIterator[None]:
        audit_ledger_state(app).signer = load_signer(
            settings.signing_key(), settings.data_dir, settings.previous_public_keys()
        )
        yield

    return create_service_app(
        settings,
        title="AOS audit-ledger",
        routers=[api.router, internal_api.router],
        outbox=outbox,
        idempotency=idempotency_keys,
        lifespan_hooks=[signing_key],
        transports=transports,
        state_class=AuditLedgerState,
    )
