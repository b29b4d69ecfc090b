"""Budgets (tenant, feature or user; daily and/or monthly) and the pre-flight guard."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from aos_cost_intel.schemas import Cents, CentsIn, Identifier


class BudgetCreate(BaseModel):
    """Upserted on (tenant, budget_type, entity_id); budget_type is checked by the service so
    that a wrong value gets API.md's 400 text."""

    budget_type: str = Field(max_length=32)
    entity_id: Identifier | None = None
    daily_limit_cents: CentsIn | None = None
    monthly_limit_cents: CentsIn | None = None
    weekly_limit_cents: CentsIn | None = None
    warn_threshold_pct: int = Field(default=80, ge=0, le=100)
    hard_limit_enabled: bool = False
    alert_thresholds: list[Annotated[int, Field(ge=1, le=1000)]] = Field(
        default=[50, 80, 100],
        max_length=10,
        description="Percentages of a limit at which an alert goes to the tenant's webhook, "
        "once per threshold and period.",
    )
    on_unavailable: Literal["deny", "allow"] | None = Field(
        default=None,
        description="When the budget cannot be checked (cost-intel down): refuse or let calls "
        "go ahead. Default: deny for hard budgets, allow for soft ones.",
    )


class BudgetRead(BaseModel):
    id: str
    tenant_id: str
    budget_type: str
    entity_id: str | None
    daily_limit_cents: Cents | None
    monthly_limit_cents: Cents | None
    weekly_limit_cents: Cents | None = None
    warn_threshold_pct: int
    hard_limit_enabled: bool
    on_unavailable: Literal["deny", "allow"]
    alert_thresholds: list[int]
    is_active: bool
    current_daily_spend_cents: Cents
    current_weekly_spend_cents: Cents
    current_monthly_spend_cents: Cents
    held_cents: Cents


class KeyBudgetSync(BaseModel):
    """An API key's budget as the tenants service sends it (its outbox adds the message id)."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: str = Field(min_length=1, max_length=64)
    key_id: Identifier
    limit_cents: CentsIn
    period: Literal["daily", "weekly", "monthly"]


class GuardRequest(BaseModel):
    user_id: Identifier | None = None
    feature_tag: Identifier | None = None
    estimated_cost_cents: CentsIn


class GuardRead(BaseModel):
    allowed: bool
    reason: str
    budget_id: str | None = None
    remaining_cents: Cents | None = None
    on_unavailable: Literal["deny", "allow"] = Field(
        default="allow",
        description="What to do while this guard cannot be asked: deny when any applicable "
        "budget says so (hard budgets by default).",
    )
