"""Routes: /api/v1/tenant/api-keys (list, create, revoke)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aos_common.audit_outbox import kick_outbox_after_commit
from aos_common.db import SessionDep
from aos_common.envelope import envelope, json_response
from aos_common.idempotency import idempotent
from aos_tenants.api_keys import service
from aos_tenants.api_keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreatedRead,
    ApiKeyRead,
    ApiKeyRevokedRead,
)
from aos_tenants.dependencies import KeyCreatorDep, KeyReaderDep, KeyRevokerDep

router = APIRouter(prefix="/api/v1/tenant/api-keys", tags=["api-keys"])


def redact_key(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "key": None}


@router.get("", response_model=list[ApiKeyRead])
async def list_api_keys(
    session: SessionDep,
    caller: KeyReaderDep,
    include_revoked: bool = False,
) -> Response:
    tenant = caller.tenant_id
    keys = await service.list_keys(session, tenant, include_revoked=include_revoked)
    return json_response([key.model_dump(mode="json") for key in keys])


@router.post("", status_code=201, response_model=ApiKeyCreatedRead)
async def create_api_key(
    body: ApiKeyCreate,
    request: Request,
    session: SessionDep,
    caller: KeyCreatorDep,
) -> Response:
    """The reply carries the full key once; an idempotent replay shows it as null."""
    tenant = caller.tenant_id

    async def produce() -> Response:
        created = await service.create_key(session, tenant, body, actor=caller.principal)
        kick_outbox_after_commit(request.app, session)
        return json_response(created, 201)

    return await idempotent(request, session, tenant, produce, redact=redact_key)


@router.delete("/{key_id}", response_model=ApiKeyRevokedRead)
async def revoke_api_key(
    key_id: str,
    request: Request,
    session: SessionDep,
    caller: KeyRevokerDep,
    reason: Annotated[str, Query(min_length=1, max_length=500)] = "Manual revocation",
) -> Response:
    tenant = caller.tenant_id
    revoked = await service.revoke_key(
        session, tenant, key_id, reason=reason, actor=caller.principal
    )
    kick_outbox_after_commit(request.app, session)
    body = envelope(revoked.model_dump(mode="json"))
    body["message"] = f"API key {key_id} revoked"
    return json_response(body)
