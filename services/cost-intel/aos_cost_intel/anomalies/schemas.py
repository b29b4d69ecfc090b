"""Cost anomalies and detection results."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, PlainSerializer

from aos_cost_intel.schemas import Cents

Pct = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class CostAnomalyRead(BaseModel):
    id: str
    tenant_id: str
    anomaly_type: str
    severity: str
    entity_type: str
    entity_id: str
    day: date
    current_value_cents: Cents
    expected_value_cents: Cents
    deviation_pct: Pct
    message: str
    derived_cause: str
    incident_id: str | None
    action_taken: str | None
    resolved: bool
    resolved_at: datetime | None = None
    detected_at: datetime


class AnomalyProvenance(BaseModel):
    sources: list[str]
    window: str
    aggregation: str
    generated_at: datetime


class AnomalyList(BaseModel):
    data: list[CostAnomalyRead]
    provenance: AnomalyProvenance


class DetectRequest(BaseModel):
    escalate: bool = True


class EscalationRead(BaseModel):
    anomaly_id: str
    incident_id: str
    audit_entry_id: str
    webhook: str


class DetectResult(BaseModel):
    detected_count: int
    escalated_count: int
    anomalies: list[CostAnomalyRead]
    escalated: list[EscalationRead]


def anomaly_payload(anomaly: CostAnomalyRead) -> dict[str, Any]:
    return anomaly.model_dump(mode="json")
