"""Feature tags: the `namespace.action` names cost is attributed to."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from aos_cost_intel.schemas import Cents, CentsIn, Description, DisplayName, TagName


class FeatureTagCreate(BaseModel):
    tag: TagName
    display_name: DisplayName
    description: Description | None = None
    budget_cents: CentsIn | None = None


class FeatureTagUpdate(BaseModel):
    display_name: DisplayName | None = None
    description: Description | None = None
    budget_cents: CentsIn | None = None
    is_active: bool | None = None


class FeatureTagRead(BaseModel):
    id: str
    tenant_id: str
    tag: str
    display_name: str
    description: str | None
    budget_cents: Cents | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
