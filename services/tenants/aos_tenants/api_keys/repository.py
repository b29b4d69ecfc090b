"""All SQL on API keys. Keys are read back without their hash; the key itself is never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_tenants.models import ApiKey


@dataclass(frozen=True)
class KeyRecord:
    id: str
    tenant_id: str
    name: str
    key_prefix: str
    status: str
    roles: list[str]
    permissions: list[str]
    allowed_workers: list[str] | None
    rate_limit_rpm: int | None
    max_concurrent_runs: int | None
    budget_limit_cents: Decimal | None
    budget_period: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    total_requests: int
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None

    def status_at(self, now: datetime) -> str:
        """`active|revoked|expired`: an active key past its expiry reads as expired."""
        if self.status == "active" and self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return self.status


_COLUMNS = [getattr(ApiKey, name) for name in KeyRecord.__dataclass_fields__]


def _record(row: Any) -> KeyRecord:
    return KeyRecord(**{name: getattr(row, name) for name in KeyRecord.__dataclass_fields__})


async def insert_key(session: AsyncSession, values: dict[str, Any]) -> KeyRecord:
    row = (await session.execute(insert(ApiKey).values(**values).returning(*_COLUMNS))).one()
    return _record(row)


async def count_active_keys(session: AsyncSession, tenant_id: str, now: datetime) -> int:
    statement = tenant_scoped(select(func.count()), ApiKey.tenant_id, tenant_id).where(
        ApiKey.status == "active", or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
    )
    return int(await session.scalar(statement) or 0)


async def list_keys(
    session: AsyncSession, tenant_id: str, *, include_revoked: bool
) -> list[KeyRecord]:
    statement = tenant_scoped(select(*_COLUMNS), ApiKey.tenant_id, tenant_id)
    if not include_revoked:
        statement = statement.where(ApiKey.status != "revoked")
    rows = await session.execute(statement.order_by(ApiKey.created_at.desc(), ApiKey.id))
    return [_record(row) for row in rows]


async def get_key(session: AsyncSession, tenant_id: str, key_id: str) -> KeyRecord | None:
    statement = tenant_scoped(select(*_COLUMNS), ApiKey.tenant_id, tenant_id).where(
        ApiKey.id == key_id
    )
    row = (await session.execute(statement)).one_or_none()
    return _record(row) if row is not None else None


async def revoke_key(
    session: AsyncSession, tenant_id: str, key_id: str, reason: str
) -> KeyRecord | None:
    """Revoke an active key; None when it does not exist or was already revoked."""
    statement = (
        tenant_scoped(update(ApiKey), ApiKey.tenant_id, tenant_id)
        .where(ApiKey.id == key_id, ApiKey.status == "active")
        .values(status="revoked", revoked_at=func.now(), revoked_reason=reason)
        .returning(*_COLUMNS)
    )
    row = (await session.execute(statement)).one_or_none()
    return _record(row) if row is not None else None
