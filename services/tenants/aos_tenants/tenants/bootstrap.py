"""Operator actions straight on the database: what `aos up` and the `aos tenants|keys` commands use.

They run the same service functions as the HTTP routes (same validation, limits and audit entries,
which wait in the outbox until the tenants service delivers them), in one transaction each.
Migrations must have run (`aos migrate` / `aos up` do that first).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import create_engine, create_sessionmaker
from aos_common.envelope import utc_now
from aos_common.errors import NotFound
from aos_tenants.api_keys import repository as keys_repository
from aos_tenants.api_keys import service as keys_service
from aos_tenants.api_keys.schemas import ApiKeyCreate, ApiKeyCreatedRead, ApiKeyRead
from aos_tenants.credentials.repository import find_key_by_hash
from aos_tenants.credentials.tokens import DEFAULT_TOKEN_TTL_SECONDS, mint_console_token
from aos_tenants.domain.keys import hash_api_key
from aos_tenants.settings import TenantsSettings
from aos_tenants.tenants import repository as tenants_repository
from aos_tenants.tenants import service as tenants_service
from aos_tenants.tenants.repository import TenantRecord
from aos_tenants.tenants.schemas import TenantCreate, TenantCreatedRead, TenantRead, TenantUpdate

DEMO_SLUG = "demo"
DEMO_NAME = "Demo tenant"
BOOTSTRAP_KEY_NAME = "aos up admin key"
DEMO_SUBJECT = "demo-admin"


@asynccontextmanager
async def transaction(database_url: str) -> AsyncIterator[AsyncSession]:
    """One transaction on a short-lived engine (CLI use: nothing stays open afterwards)."""
    engine = create_engine(database_url, application_name="aos-cli", pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


async def find_tenant(session: AsyncSession, tenant: str) -> TenantRecord:
    """A tenant by id (`tnt_…`) or slug."""
    record = await tenants_repository.get_tenant(session, tenant)
    if record is None:
        record = await tenants_repository.get_tenant_by_slug(session, tenant)
    if record is None:
        raise NotFound(f"Tenant {tenant} not found")
    return record


async def create_tenant(
    database_url: str, name: str, *, slug: str | None = None, plan: str = "free"
) -> TenantCreatedRead:
    async with transaction(database_url) as session:
        body = TenantCreate(name=name, slug=slug, plan=plan)  # type: ignore[arg-type]
        return await tenants_service.create_tenant(session, body, actor=None)


async def create_key(
    database_url: str, tenant: str, body: ApiKeyCreate, *, admin: bool = False
) -> tuple[str, ApiKeyCreatedRead]:
    """Create a key for a tenant given by id or slug; returns (tenant id, the created key)."""
    async with transaction(database_url) as session:
        record = await find_tenant(session, tenant)
        if admin:
            body = body.model_copy(update={"permissions": ["*"]})
        created = await keys_service.create_key(
            session, record.id, body, actor=None, roles=("admin",) if admin else ()
        )
        return record.id, created


async def list_tenants(database_url: str) -> list[TenantRead]:
    async with transaction(database_url) as session:
        return [
            tenants_service.to_read(record)
            for record in await tenants_repository.list_tenants(session)
        ]


async def suspend_tenant(database_url: str, tenant: str) -> TenantRead:
    """Suspend a tenant given by id or slug (its runs are refused until it is active again)."""
    async with transaction(database_url) as session:
        record = await find_tenant(session, tenant)
        return await tenants_service.update_tenant(
            session, record.id, TenantUpdate(status="suspended")
        )


async def list_keys(
    database_url: str, tenant: str, *, include_revoked: bool
) -> tuple[str, list[ApiKeyRead]]:
    async with transaction(database_url) as session:
        record = await find_tenant(session, tenant)
        keys = await keys_service.list_keys(session, record.id, include_revoked=include_revoked)
        return record.id, keys


async def revoke_key(database_url: str, tenant: str, key_id: str, *, reason: str) -> ApiKeyRead:
    """Revoke through the same service as the API, so the revocation is audited the same way."""
    async with transaction(database_url) as session:
        record = await find_tenant(session, tenant)
        return await keys_service.revoke_key(session, record.id, key_id, reason=reason, actor=None)


async def _key_still_valid(session: AsyncSession, tenant_id: str, key: str) -> bool:
    stored = await find_key_by_hash(session, hash_api_key(key))
    return (
        stored is not None
        and stored.tenant_id == tenant_id
        and stored.status == "active"
        and (stored.expires_at is None or stored.expires_at > utc_now())
    )


async def _rotate_bootstrap_key(session: AsyncSession, tenant_id: str) -> str:
    for key in await keys_repository.list_keys(session, tenant_id, include_revoked=False):
        if key.name == BOOTSTRAP_KEY_NAME and key.status == "active":
            await keys_service.revoke_key(
                session, tenant_id, key.id, reason="Replaced by aos up", actor=None
            )
    created = await keys_service.create_key(
        session,
        tenant_id,
        ApiKeyCreate(name=BOOTSTRAP_KEY_NAME, permissions=["*"]),
        actor=None,
        roles=("admin",),
    )
    assert created.key is not None
    return created.key


async def bootstrap_demo(
    database_url: str,
    *,
    jwt_secret: str | None = None,
    existing: Mapping[str, Any] | None = None,
    slug: str = DEMO_SLUG,
    name: str = DEMO_NAME,
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
) -> dict[str, str]:
    """Create or reuse the demo tenant, its admin key and a fresh console JWT.

    `existing` is the previous `.aos/credentials.json` (if any): its admin key is kept while it is
    still active for the demo tenant; otherwise a new admin key replaces earlier bootstrap keys.
    Returns `tenant_id`, `tenant_slug`, `admin_key`, `console_token`.
    """
    secret = jwt_secret or TenantsSettings().jwt_secret
    previous = dict(existing or {})
    async with transaction(database_url) as session:
        tenant = await tenants_repository.get_tenant_by_slug(session, slug)
        admin_key: str | None = None
        if tenant is None:
            created = await tenants_service.create_tenant(
                session, TenantCreate(name=name, slug=slug), actor=None
            )
            tenant_id, admin_key = created.id, created.initial_api_key.key
        else:
            tenant_id = tenant.id
            kept = previous.get("admin_key")
            if isinstance(kept, str) and await _key_still_valid(session, tenant_id, kept):
                admin_key = kept
        if admin_key is None:
            admin_key = await _rotate_bootstrap_key(session, tenant_id)
    token = mint_console_token(
        secret,
        tenant_id=tenant_id,
        subject=DEMO_SUBJECT,
        roles=["admin"],
        ttl_seconds=token_ttl_seconds,
    )
    return {
        "tenant_id": tenant_id,
        "tenant_slug": slug,
        "admin_key": admin_key,
        "console_token": token,
    }
