"""The price book as the API shows it: USD cents per million tokens, decimal strings."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from aos_cost_intel.schemas import Cents


class PriceEntryRead(BaseModel):
    model: str
    provider: str
    pattern: str
    input: Cents
    cache_read: Cents
    cache_creation: Cents
    output: Cents
    reasoning: Cents
    effective_from: datetime
    effective_to: datetime | None


class PriceVersionRead(BaseModel):
    version: str
    loaded_at: datetime
    loaded_by: str
    is_current: bool


class PriceBookRead(BaseModel):
    version: str
    current_version: str
    unit: str = "USD cents per million tokens"
    loaded_at: datetime
    prices: list[PriceEntryRead]
    versions: list[PriceVersionRead]


class PriceBookLoaded(BaseModel):
    version: str
    loaded: bool
    entries: int
    current_version: str
