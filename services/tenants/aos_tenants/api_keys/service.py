"""API key lifecycle: create (shown once), list, revoke (irreversible), each audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.audit_outbox import enqueue_audit_entry
from aos_common.auth import DEFAULT_KEY_PERMISSIONS, Principal
from aos_common.envelope import utc_now
from aos_common.errors import Forbidden, NotFound, TooManyRequests
from aos_common.ids import new_id
from aos_common.outbox import enqueue
from aos_tenants.api_keys import repository
from aos_tenants.api_keys.repository import KeyRecord
from aos_tenants.api_keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreatedRead,
    ApiKeyRead,
    KeyBudget,
    KeyBudgetRead,
)
from aos_tenants.domain.keys import generate_api_key
from aos_tenants.models import outbox
from aos_tenants.tenants import repository as tenants_repository

KEY_LIMIT_EXCEEDED = "API key limit exceeded"
KEY_NOT_FOUND = "API key not found"
TENANT_NOT_FOUND = "Tenant not found"
KEY_BUDGET_PATH = "/internal/v1/cost/key-budgets"


def to_read(record: KeyRecord) -> ApiKeyRead:
    return ApiKeyRead(
        id=record.id,
        name=record.name,
        key_prefix=record.key_prefix,
        status=record.status_at(utc_now()),
        permissions=record.permissions,
        last_used_at=record.last_used_at,
        total_requests=record.total_requests,
        expires_at=record.expires_at,
        created_at=record.created_at,
        allowed_workers=record.allowed_workers,
        rate_limit_rpm=record.rate_limit_rpm,
        max_concurrent_runs=record.max_concurrent_runs,
        budget=KeyBudgetRead(limit_cents=record.budget_limit_cents, period=record.budget_period)
        if record.budget_limit_cents is not None and record.budget_period is not None
        else None,
    )


async def send_key_budget(
    session: AsyncSession, tenant_id: str, key_id: str, budget: KeyBudget
) -> None:
    """Tell cost-intel (through the outbox, in this transaction) to enforce the key's budget."""
    await enqueue(
        session,
        outbox,
        destination="cost-intel",
        path=KEY_BUDGET_PATH,
        payload={
            "tenant_id": tenant_id,
            "key_id": key_id,
            "limit_cents": format(budget.limit_cents, "f"),
            "period": budget.period,
        },
    )


def _audit_state(record: KeyRecord) -> dict[str, object]:
    """What the ledger keeps about a key: never the key, never its hash."""
    return {
        "id": record.id,
        "name": record.name,
        "key_prefix": record.key_prefix,
        "status": record.status,
        "roles": record.roles,
        "permissions": record.permissions,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
    }


def _check_grantable(actor: Principal | None, permissions: list[str]) -> None:
    """A caller cannot mint a key stronger than itself."""
    if actor is None:
        return
    for permission in permissions:
        if not actor.has_permission(permission):
            raise Forbidden(f"Requires permission {permission}")


async def create_key(
    session: AsyncSession,
    tenant_id: str,
    body: ApiKeyCreate,
    *,
    actor: Principal | None,
    roles: tuple[str, ...] = (),
) -> ApiKeyCreatedRead:
    """Create a key under the tenant's key limit; the reply is the only place the key appears."""
    permissions = list(
        body.permissions if body.permissions is not None else DEFAULT_KEY_PERMISSIONS
    )
    _check_grantable(actor, permissions)
    tenant = await tenants_repository.lock_tenant(session, tenant_id)
    if tenant is None:
        raise NotFound(TENANT_NOT_FOUND)
    now = utc_now()
    if await repository.count_active_keys(session, tenant_id, now) >= tenant.max_api_keys:
        raise TooManyRequests(KEY_LIMIT_EXCEEDED)
    generated = generate_api_key()
    record = await repository.insert_key(
        session,
        {
            "tenant_id": tenant_id,
            "id": new_id("key_"),
            "name": body.name,
            "key_prefix": generated.key_prefix,
            "key_hash": generated.key_hash,
            "status": "active",
            "roles": list(roles),
            "permissions": permissions,
            "allowed_workers": body.allowed_workers,
            "rate_limit_rpm": body.rate_limit_rpm,
            "max_concurrent_runs": body.max_concurrent_runs,
            "budget_limit_cents": body.budget.limit_cents if body.budget else None,
            "budget_period": body.budget.period if body.budget else None,
            "expires_at": now + timedelta(days=body.expires_in_days)
            if body.expires_in_days
            else None,
            "created_by": actor.principal_id if actor else "system",
        },
    )
    await enqueue_audit_entry(
        session,
        outbox,
        tenant_id=tenant_id,
        event_type="ApiKeyCreated",
        entity_type="API_KEY",
        entity_id=record.id,
        actor=actor,
        action_reason=f"API key {record.name!r} created",
        before_state=None,
        after_state=_audit_state(record),
    )
    if body.budget is not None:
        await send_key_budget(session, tenant_id, record.id, body.budget)
    return ApiKeyCreatedRead(**to_read(record).model_dump(), key=generated.key)


async def list_keys(
    session: AsyncSession, tenant_id: str, *, include_revoked: bool
) -> list[ApiKeyRead]:
    records = await repository.list_keys(session, tenant_id, include_revoked=include_revoked)
    return [to_read(record) for record in records]


async def revoke_key(
    session: AsyncSession, tenant_id: str, key_id: str, *, reason: str, actor: Principal | None
) -> ApiKeyRead:
    """Revoke once (audited); revoking a revoked key again changes nothing and succeeds."""
    record = await repository.revoke_key(session, tenant_id, key_id, reason)
    if record is None:
        existing = await repository.get_key(session, tenant_id, key_id)
        if existing is None:
            raise NotFound(KEY_NOT_FOUND)
        return to_read(existing)
    before = {**_audit_state(record), "status": "active"}
    await enqueue_audit_entry(
        session,
        outbox,
        tenant_id=tenant_id,
        event_type="ApiKeyRevoked",
        entity_type="API_KEY",
        entity_id=record.id,
        actor=actor,
        action_reason=reason,
        before_state=before,
        after_state=_audit_state(record),
    )
    return to_read(record)
