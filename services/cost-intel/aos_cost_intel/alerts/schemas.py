"""The tenant's alert webhook, fired alerts and the webhook delivery log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, Field

from aos_cost_intel.schemas import Cents


class WebhookSet(BaseModel):
    url: AnyHttpUrl = Field(description="Where alerts are POSTed (http or https).")
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=128,
        description="HMAC key for X-AOS-Signature; generated when omitted.",
    )


class WebhookRead(BaseModel):
    url: str
    updated_at: datetime
    secret: str | None = Field(
        default=None, description="Only in the answer to PUT: keep it to verify signatures."
    )


class AlertRead(BaseModel):
    budget_id: str
    period: Literal["daily", "weekly", "monthly"]
    window_start: date
    threshold_pct: int
    spend_cents: Cents
    limit_cents: Cents
    fired_at: datetime


class DeliveryRead(BaseModel):
    id: str
    event: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    body: str
