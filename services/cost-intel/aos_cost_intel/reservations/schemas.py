"""Reservations: authorize an estimated cost against every applicable hard budget, then settle
the actual cost or release the hold."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from aos_cost_intel.records.schemas import CostRecordCreate, RecordResult
from aos_cost_intel.schemas import Cents, CentsIn, Identifier, ModelName

DEFAULT_TTL_SECONDS = 300
MAX_TTL_SECONDS = 3600
MAX_SETTLE_RECORDS = 1000
Status = Literal["held", "settled", "released", "expired"]


class ReservationCreate(BaseModel):
    estimated_cost_cents: CentsIn
    user_id: Identifier | None = None
    feature_tag: Identifier | None = None
    model: ModelName | None = None
    run_id: Identifier | None = None
    ttl_seconds: int = Field(default=DEFAULT_TTL_SECONDS, ge=1, le=MAX_TTL_SECONDS)


class SettleRequest(BaseModel):
    """Either the cost records of the work (priced like every record) or one actual cost."""

    records: list[CostRecordCreate] | None = Field(
        default=None, min_length=1, max_length=MAX_SETTLE_RECORDS
    )
    actual_cost_cents: CentsIn | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SettleRequest:
        if (self.records is None) == (self.actual_cost_cents is None):
            raise ValueError("send either records or actual_cost_cents")
        return self


class BudgetHold(BaseModel):
    budget_id: str
    remaining_cents: Cents


class HeldBudget(BaseModel):
    """A budget a reservation sits on, as the reservations list shows it: `held_cents` is what
    the reservation put on it (off the budget again once the reservation is no longer held);
    `budget_type` and `entity_id` are null for a budget no longer stored."""

    budget_id: str
    budget_type: str | None
    entity_id: str | None
    held_cents: Cents


class ReservationFields(BaseModel):
    id: str
    tenant_id: str
    status: Status
    held_cents: Cents
    charged_cents: Cents | None
    expires_at: datetime
    created_at: datetime
    closed_at: datetime | None
    user_id: str | None
    feature_tag: str | None
    model: str | None
    run_id: str | None
    api_key_id: str | None


class ReservationRead(ReservationFields):
    """A reservation with what remains of each budget it holds (after this hold)."""

    budgets: list[BudgetHold]


class ReservationListed(ReservationFields):
    """A reservation in the list (GET /reservations): each budget it sits on and the amount."""

    budgets: list[HeldBudget]


class SettleRead(ReservationRead):
    records: list[RecordResult]
    overshoot_cents: Cents
    anomaly_id: str | None
