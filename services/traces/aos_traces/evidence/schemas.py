"""Evidence records and the integrity report as the API takes and returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

EvidenceClass = Literal[
    "environment", "trace", "trace_steps", "activity", "provider", "policy_decisions"
]
FailureType = Literal[
    "capture_failed",
    "provider_timeout",
    "network_partition",
    "database_error",
    "pre_attach",
    "context_invalid",
]


class EvidenceCreate(BaseModel):
    """Evidence of a class, or (with `failure_type`) a failure to capture that class."""

    evidence_class: EvidenceClass
    failure_type: FailureType | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class EvidenceRecorded(BaseModel):
    """`transient` only for a capture failure (null for evidence)."""

    evidence_id: str
    trace_id: str
    evidence_class: EvidenceClass
    kind: Literal["evidence", "capture_failure"]
    failure_type: FailureType | None
    transient: bool | None
    created_at: datetime


class CaptureFailureRead(BaseModel):
    evidence_class: str
    failure_type: str
    transient: bool
    resolved: bool
    details: Any
    created_at: datetime | None


class IntegrityRead(BaseModel):
    """The grade of a trace: SEALED once completed, else PENDING; score = observed / 6."""

    trace_id: str
    state: Literal["SEALED", "PENDING"]
    grade: Literal["PASS", "WARN", "FAIL"]
    score: float
    observed: list[str]
    missing: list[str]
    failures: list[CaptureFailureRead]
    explanation: str
