"""Credential lookups: one indexed query per resolution, and batched usage write-backs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aos_tenants.models import ApiKey, Tenant


@dataclass(frozen=True)
class StoredKey:
    id: str
    tenant_id: str
    status: str
    roles: list[str]
    permissions: list[str]
    rate_limit_rpm: int | None
    expires_at: datetime | None


_KEY_BY_HASH = select(
    ApiKey.id,
    ApiKey.tenant_id,
    ApiKey.status,
    ApiKey.roles,
    ApiKey.permissions,
    ApiKey.rate_limit_rpm,
    ApiKey.expires_at,
).where(ApiKey.key_hash == bindparam("key_hash"))
_RECENTLY_REVOKED = text(
    "SELECT id FROM tenants.api_keys WHERE revoked_at >= now() - make_interval(secs => :window)"
    " UNION SELECT id FROM tenants.api_keys"
    " WHERE expires_at BETWEEN now() - make_interval(secs => :window) AND now()"
)
_TENANT_ID = select(Tenant.id).where(Tenant.id == bindparam("tenant_id"))
_ACTIVE_KEY = text(
    "SELECT 1 FROM tenants.api_keys WHERE id = :key_id AND tenant_id = :tenant_id"
    " AND status = 'active' AND (expires_at IS NULL OR expires_at > now())"
)

Executor = AsyncConnection | AsyncSession


async def find_key_by_hash(executor: Executor, key_hash: str) -> StoredKey | None:
    """The key with this hash. Not tenant-scoped on purpose: the key is what names the tenant."""
    row = (await executor.execute(_KEY_BY_HASH, {"key_hash": key_hash})).one_or_none()
    if row is None:
        return None
    return StoredKey(
        id=row.id,
        tenant_id=row.tenant_id,
        status=row.status,
        roles=list(row.roles),
        permissions=list(row.permissions),
        rate_limit_rpm=row.rate_limit_rpm,
        expires_at=row.expires_at,
    )


async def recently_revoked_key_ids(executor: Executor, window_seconds: float) -> set[str]:
    """Keys revoked, or past their expiry, within the last `window_seconds` (two index scans)."""
    rows = await executor.execute(_RECENTLY_REVOKED, {"window": window_seconds})
    return {row.id for row in rows}


async def key_active(executor: Executor, tenant_id: str, key_id: str) -> bool:
    """Whether the tenant's key is active and unexpired (console sessions are bound to one)."""
    row = (await executor.execute(_ACTIVE_KEY, {"tenant_id": tenant_id, "key_id": key_id})).first()
    return row is not None


async def tenant_exists(executor: Executor, tenant_id: str) -> bool:
    row = (await executor.execute(_TENANT_ID, {"tenant_id": tenant_id})).one_or_none()
    return row is not None


_TOUCH_KEYS = text(
    """
    UPDATE tenants.api_keys AS k
       SET last_used_at = now(), total_requests = k.total_requests + v.n
      FROM unnest(CAST(:tenant_ids AS text[]), CAST(:key_ids AS text[]), CAST(:counts AS bigint[]))
           AS v(tenant_id, id, n)
     WHERE k.tenant_id = v.tenant_id AND k.id = v.id
    """
).bindparams(bindparam("tenant_ids"), bindparam("key_ids"), bindparam("counts"))

_RECORD_API_CALLS = text(
    """
    INSERT INTO tenants.usage_records (tenant_id, meter, quantity, unit, source)
    SELECT t, 'api_calls', n, 'requests', s
      FROM unnest(CAST(:tenant_ids AS text[]), CAST(:sources AS text[]), CAST(:counts AS bigint[]))
           AS v(t, s, n)
    """
)


async def touch_keys(
    session: AsyncSession,
    keys: dict[tuple[str, str], int],
    api_calls: dict[tuple[str, str], int],
) -> None:
    """Write back key use (last_used_at, total_requests) and api_call meters (by tenant and
    source), one batch each."""
    if keys:
        tenant_ids, key_ids = zip(*keys.keys(), strict=True)
        await session.execute(
            _TOUCH_KEYS,
            {
                "tenant_ids": list(tenant_ids),
                "key_ids": list(key_ids),
                "counts": list(keys.values()),
            },
        )
    if api_calls:
        call_tenants, sources = zip(*api_calls.keys(), strict=True)
        await session.execute(
            _RECORD_API_CALLS,
            {
                "tenant_ids": list(call_tenants),
                "sources": list(sources),
                "counts": list(api_calls.values()),
            },
        )
