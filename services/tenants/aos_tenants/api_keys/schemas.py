"""Pydantic I/O of API keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

Permission = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*|[a-z][a-z0-9_-]{0,31}:(\*|[a-z0-9][a-z0-9_.-]{0,63}))$", max_length=100
    ),
]
WorkerId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class KeyBudget(BaseModel):
    """The key's own hard spend limit per period (UTC day, ISO week from Monday, calendar
    month), enforced by cost-intel's reservations like every hard budget."""

    model_config = ConfigDict(extra="forbid")

    limit_cents: Decimal = Field(ge=0, le=Decimal("1e15"), decimal_places=20)
    period: Literal["daily", "weekly", "monthly"]


def _plain(value: Decimal) -> str:
    """Cents as a plain decimal string ("2500", "0.5"), as cost-intel writes them."""
    return format(value.normalize(), "f") if value else "0"


class KeyBudgetRead(BaseModel):
    limit_cents: Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]
    period: str


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    permissions: list[Permission] | None = Field(default=None, max_length=50)
    allowed_workers: list[WorkerId] | None = Field(default=None, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=365)
    rate_limit_rpm: int | None = Field(default=None, ge=1, le=1000)
    max_concurrent_runs: int | None = Field(default=None, ge=1, le=100)
    budget: KeyBudget | None = None


class ApiKeyRead(BaseModel):
    id: str
    name: str
    key_prefix: str
    status: str
    permissions: list[str]
    last_used_at: datetime | None
    total_requests: int
    expires_at: datetime | None
    created_at: datetime
    allowed_workers: list[str] | None = None
    rate_limit_rpm: int | None = None
    max_concurrent_runs: int | None = None
    budget: KeyBudgetRead | None = None


class ApiKeyCreatedRead(ApiKeyRead):
    key: str | None = Field(description="The full key: shown once, at creation, never again.")


class ApiKeyRevokedRead(BaseModel):
    success: bool = True
    message: str
    data: dict[str, Any]
    meta: dict[str, Any]
