"""All SQL on the tenant row, including the atomic run counters, and the usage records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_tenants.domain.quotas import counter_for
from aos_tenants.models import Tenant, UsageRecord


@dataclass(frozen=True)
class TenantRecord:
    id: str
    name: str
    slug: str
    plan: str
    status: str
    max_workers: int
    max_runs_per_day: int
    max_concurrent_runs: int
    max_tokens_per_month: int
    max_api_keys: int
    runs_today: int
    runs_day: date | None
    runs_this_month: int
    runs_month: date | None
    tokens_this_month: int
    tokens_month: date | None
    running_runs: int
    created_at: datetime

    def effective(self, today: date) -> dict[str, int]:
        """Counters as of `today` (UTC): a counter from an earlier day or month reads as 0."""
        month = today.replace(day=1)
        return {
            "runs_today": counter_for(self.runs_today, self.runs_day, today),
            "runs_this_month": counter_for(self.runs_this_month, self.runs_month, month),
            "tokens_this_month": counter_for(self.tokens_this_month, self.tokens_month, month),
        }


TENANT_COLUMNS = [getattr(Tenant, name) for name in TenantRecord.__dataclass_fields__]
_COLUMNS = TENANT_COLUMNS


def tenant_record(row: Any) -> TenantRecord:
    """A TenantRecord from any row that carries the tenant columns (also joined reads)."""
    return _record(row)


def _record(row: Any) -> TenantRecord:
    return TenantRecord(**{name: getattr(row, name) for name in TenantRecord.__dataclass_fields__})


def _by_id(tenant_id: str) -> Any:
    return tenant_scoped(select(*_COLUMNS), Tenant.id, tenant_id)


async def insert_tenant(session: AsyncSession, values: dict[str, Any]) -> TenantRecord | None:
    """Insert a tenant; None when the slug is taken (the unique constraint decides)."""
    row = (
        await session.execute(
            pg_insert(Tenant)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[Tenant.slug])
            .returning(*_COLUMNS)
        )
    ).one_or_none()
    return _record(row) if row is not None else None


async def get_tenant(session: AsyncSession, tenant_id: str) -> TenantRecord | None:
    row = (await session.execute(_by_id(tenant_id))).one_or_none()
    return _record(row) if row is not None else None


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> TenantRecord | None:
    row = (await session.execute(select(*_COLUMNS).where(Tenant.slug == slug))).one_or_none()
    return _record(row) if row is not None else None


async def list_tenants(session: AsyncSession) -> list[TenantRecord]:
    """Every tenant, oldest first (the operator's view; no tenant scope applies)."""
    rows = await session.execute(select(*_COLUMNS).order_by(Tenant.created_at, Tenant.id))
    return [_record(row) for row in rows]


async def lock_tenant(session: AsyncSession, tenant_id: str) -> TenantRecord | None:
    """The tenant row, locked until commit: serialises key-count checks per tenant."""
    row = (await session.execute(_by_id(tenant_id).with_for_update())).one_or_none()
    return _record(row) if row is not None else None


async def update_tenant(
    session: AsyncSession, tenant_id: str, values: dict[str, Any]
) -> TenantRecord | None:
    row = (
        await session.execute(
            tenant_scoped(update(Tenant), Tenant.id, tenant_id)
            .values(**values, updated_at=func.now())
            .returning(*_COLUMNS)
        )
    ).one_or_none()
    return _record(row) if row is not None else None


def _claim_statement() -> Any:
    today, month = bindparam("p_today", type_=Date), bindparam("p_month", type_=Date)
    runs_today = case((Tenant.runs_day == today, Tenant.runs_today), else_=0)
    runs_month = case((Tenant.runs_month == month, Tenant.runs_this_month), else_=0)
    return (
        tenant_scoped(update(Tenant), Tenant.id, bindparam("p_tenant_id"))
        .where(
            Tenant.status == "active",
            runs_today < Tenant.max_runs_per_day,
            Tenant.running_runs < Tenant.max_concurrent_runs,
        )
        .values(
            runs_today=runs_today + 1,
            runs_day=today,
            runs_this_month=runs_month + 1,
            runs_month=month,
            running_runs=Tenant.running_runs + 1,
        )
        .returning(*_COLUMNS)
    )


# Built once: this runs on every run start, and statement construction is not free.
_CLAIM = _claim_statement()


async def claim_run_slot(session: AsyncSession, tenant_id: str, today: date) -> TenantRecord | None:
    """Count one run start if every limit allows it, in one conditional UPDATE ... RETURNING.

    Concurrent starts queue on the row lock and each re-checks the WHERE against the row the
    previous one committed, so N parallel starts against a limit L admit exactly min(N, L).
    None means refused (suspended, daily limit or concurrency limit) or no such tenant.
    """
    parameters = {"p_tenant_id": tenant_id, "p_today": today, "p_month": today.replace(day=1)}
    row = (await session.execute(_CLAIM, parameters)).one_or_none()
    return _record(row) if row is not None else None


@dataclass(frozen=True)
class UsageTotals:
    meters: dict[str, tuple[Decimal, str]]
    total_records: int
    sources: list[str]


async def usage_totals(
    session: AsyncSession, tenant_id: str, start: datetime, end: datetime
) -> UsageTotals:
    """SUM per meter over [start, end), with the record count and the sources that fed it."""
    statement = tenant_scoped(
        select(
            UsageRecord.meter,
            UsageRecord.unit,
            UsageRecord.source,
            func.sum(UsageRecord.quantity).label("total"),
            func.count().label("records"),
        ),
        UsageRecord.tenant_id,
        tenant_id,
    ).where(UsageRecord.recorded_at >= start, UsageRecord.recorded_at < end)
    rows = (
        await session.execute(
            statement.group_by(UsageRecord.meter, UsageRecord.unit, UsageRecord.source)
        )
    ).all()
    meters: dict[str, tuple[Decimal, str]] = {}
    sources: set[str] = set()
    records = 0
    for row in rows:
        total, _ = meters.get(row.meter, (Decimal(0), row.unit))
        meters[row.meter] = (total + row.total, row.unit)
        sources.add(row.source)
        records += row.records
    return UsageTotals(meters=meters, total_records=records, sources=sorted(sources))
