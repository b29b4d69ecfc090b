"""Pydantic I/O of tenants, usage and quotas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aos_tenants.api_keys.schemas import ApiKeyCreatedRead

Plan = Literal["free", "pro", "enterprise"]
TenantStatus = Literal["active", "suspended"]
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN, max_length=64)
    plan: Plan = "free"


class TenantUpdate(BaseModel):
    """Every field optional; a new plan without explicit limits brings that plan's limits."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    plan: Plan | None = None
    status: TenantStatus | None = None
    max_workers: int | None = Field(default=None, ge=0, le=10_000)
    max_runs_per_day: int | None = Field(default=None, ge=0, le=100_000_000)
    max_concurrent_runs: int | None = Field(default=None, ge=0, le=1_000_000)
    max_tokens_per_month: int | None = Field(default=None, ge=0, le=10**15)
    max_api_keys: int | None = Field(default=None, ge=0, le=10_000)


class TenantRead(BaseModel):
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
    runs_this_month: int
    tokens_this_month: int
    created_at: datetime


class TenantCreatedRead(TenantRead):
    initial_api_key: ApiKeyCreatedRead


class QuotaRead(BaseModel):
    allowed: bool
    reason: str | None
    quota_name: str
    current: int
    limit: int


class UsageMeter(BaseModel):
    total: float
    unit: str


class UsageWindow(BaseModel):
    start: datetime
    end: datetime


class UsageProvenance(BaseModel):
    sources: list[str]
    window: dict[str, str]
    aggregation: Literal["SUM"] = "SUM"
    generated_at: str


class UsageRead(BaseModel):
    tenant_id: str
    period: UsageWindow
    meters: dict[str, UsageMeter]
    total_records: int
    provenance: UsageProvenance


class HealthRead(BaseModel):
    status: str
    version: str
    features: list[str]
