"""Tenant lifecycle, usage meters and quota answers."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.auth import Principal
from aos_common.envelope import iso_utc, utc_now
from aos_common.errors import Conflict, NotFound
from aos_common.ids import new_id
from aos_tenants.api_keys import service as keys_service
from aos_tenants.api_keys.schemas import ApiKeyCreate
from aos_tenants.domain.quotas import QuotaDecision, run_quota, token_quota
from aos_tenants.tenants import repository
from aos_tenants.tenants.repository import TenantRecord
from aos_tenants.tenants.schemas import (
    TenantCreate,
    TenantCreatedRead,
    TenantRead,
    TenantUpdate,
    UsageMeter,
    UsageProvenance,
    UsageRead,
    UsageWindow,
)

TENANT_NOT_FOUND = "Tenant not found"
INITIAL_KEY_NAME = "Initial admin key"
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
METER_UNITS = {"runs": "runs", "tokens": "tokens", "api_calls": "requests", "cost_cents": "cents"}
USAGE_SOURCE_TABLE = "tenants.usage_records"


@dataclass(frozen=True)
class PlanLimits:
    max_workers: int
    max_runs_per_day: int
    max_concurrent_runs: int
    max_tokens_per_month: int
    max_api_keys: int


# `free` is API.md's default (3 / 100 / 5 / 1,000,000 / 5); the others are this service's choice.
PLANS: dict[str, PlanLimits] = {
    "free": PlanLimits(3, 100, 5, 1_000_000, 5),
    "pro": PlanLimits(10, 1_000, 20, 20_000_000, 20),
    "enterprise": PlanLimits(100, 100_000, 200, 1_000_000_000, 100),
}


def today_utc() -> date:
    return utc_now().date()


def to_read(record: TenantRecord, today: date | None = None) -> TenantRead:
    return TenantRead(
        id=record.id,
        name=record.name,
        slug=record.slug,
        plan=record.plan,
        status=record.status,
        max_workers=record.max_workers,
        max_runs_per_day=record.max_runs_per_day,
        max_concurrent_runs=record.max_concurrent_runs,
        max_tokens_per_month=record.max_tokens_per_month,
        max_api_keys=record.max_api_keys,
        created_at=record.created_at,
        **record.effective(today or today_utc()),
    )


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:56].strip("-")
    return slug or "tenant"


def duplicate_slug(slug: str) -> str:
    return f"Tenant slug '{slug}' already exists"


async def create_tenant(
    session: AsyncSession, body: TenantCreate, *, actor: Principal | None
) -> TenantCreatedRead:
    """Create a tenant and its initial admin key (returned once, like every key)."""
    limits = PLANS[body.plan]
    values: dict[str, Any] = {
        "id": new_id("tnt_"),
        "name": body.name,
        "plan": body.plan,
        "status": "active",
        **limits.__dict__,
    }
    slug = body.slug or slugify(body.name)
    record = await repository.insert_tenant(session, {**values, "slug": slug})
    if record is None and body.slug is None:
        record = await repository.insert_tenant(
            session, {**values, "slug": f"{slug}-{secrets.token_hex(3)}"}
        )
    if record is None:
        raise Conflict(duplicate_slug(slug))
    initial_key = await keys_service.create_key(
        session,
        record.id,
        ApiKeyCreate(name=INITIAL_KEY_NAME, permissions=["*"]),
        actor=actor,
        roles=("admin",),
    )
    return TenantCreatedRead(**to_read(record).model_dump(), initial_api_key=initial_key)


async def get_tenant(session: AsyncSession, tenant_id: str) -> TenantRecord:
    record = await repository.get_tenant(session, tenant_id)
    if record is None:
        raise NotFound(TENANT_NOT_FOUND)
    return record


async def update_tenant(session: AsyncSession, tenant_id: str, body: TenantUpdate) -> TenantRead:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "plan" in changes:
        plan_limits = PLANS[changes["plan"]].__dict__
        changes = {**plan_limits, **changes}
    if not changes:
        return to_read(await get_tenant(session, tenant_id))
    record = await repository.update_tenant(session, tenant_id, changes)
    if record is None:
        raise NotFound(TENANT_NOT_FOUND)
    return to_read(record)


async def run_quota_for(
    session: AsyncSession, tenant_id: str, *, exhausted_budget_id: str | None = None
) -> QuotaDecision:
    record = await get_tenant(session, tenant_id)
    return run_quota_of(record, exhausted_budget_id=exhausted_budget_id)


def run_quota_of(record: TenantRecord, *, exhausted_budget_id: str | None = None) -> QuotaDecision:
    counters = record.effective(today_utc())
    return run_quota(
        status=record.status,
        runs_today=counters["runs_today"],
        max_runs_per_day=record.max_runs_per_day,
        running_runs=record.running_runs,
        max_concurrent_runs=record.max_concurrent_runs,
        exhausted_budget_id=exhausted_budget_id,
    )


async def token_quota_for(
    session: AsyncSession, tenant_id: str, tokens_needed: int
) -> QuotaDecision:
    record = await get_tenant(session, tenant_id)
    return token_quota(
        tokens_this_month=record.effective(today_utc())["tokens_this_month"],
        max_tokens_per_month=record.max_tokens_per_month,
        tokens_needed=tokens_needed,
    )


async def usage(session: AsyncSession, tenant_id: str, period: str) -> UsageRead:
    """Meters summed over the window `period` names, ending now, with their provenance."""
    await get_tenant(session, tenant_id)
    end: datetime = utc_now()
    start = end - PERIODS[period]
    totals = await repository.usage_totals(session, tenant_id, start, end)
    meters = {
        name: UsageMeter(total=float(totals.meters.get(name, (0, unit))[0]), unit=unit)
        for name, unit in METER_UNITS.items()
    }
    for name, (total, unit) in totals.meters.items():
        meters.setdefault(name, UsageMeter(total=float(total), unit=unit))
    return UsageRead(
        tenant_id=tenant_id,
        period=UsageWindow(start=start, end=end),
        meters=meters,
        total_records=totals.total_records,
        provenance=UsageProvenance(
            sources=[USAGE_SOURCE_TABLE, *totals.sources],
            window={"start": iso_utc(start), "end": iso_utc(end), "period": period},
            generated_at=iso_utc(utc_now()),
        ),
    )
