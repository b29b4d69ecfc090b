"""Integrity grading of a trace from its evidence classes and capture failures (pure rules).

Required classes must all be observed; expected classes raise the score. A capture failure is
resolved once evidence of the same class is recorded after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REQUIRED_CLASSES = ("environment", "trace", "trace_steps")
EXPECTED_CLASSES = ("activity", "provider", "policy_decisions")
EVIDENCE_CLASSES = REQUIRED_CLASSES + EXPECTED_CLASSES
TRANSIENT_FAILURES = ("capture_failed", "provider_timeout", "network_partition", "database_error")
PERMANENT_FAILURES = ("pre_attach", "context_invalid")
FAILURE_TYPES = TRANSIENT_FAILURES + PERMANENT_FAILURES
PASS_SCORE = 0.8
WARN_SCORE = 0.5


@dataclass(frozen=True)
class CaptureFailure:
    evidence_class: str
    failure_type: str
    resolved: bool
    details: Any = None
    created_at: datetime | None = None

    @property
    def transient(self) -> bool:
        return self.failure_type in TRANSIENT_FAILURES

    def as_dict(self) -> dict[str, Any]:
        return {
            "evidence_class": self.evidence_class,
            "failure_type": self.failure_type,
            "transient": self.transient,
            "resolved": self.resolved,
            "details": self.details,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True)
class IntegrityReport:
    state: str
    grade: str
    score: float
    observed: list[str]
    missing: list[str]
    failures: list[dict[str, Any]]
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "grade": self.grade,
            "score": self.score,
            "observed": self.observed,
            "missing": self.missing,
            "failures": self.failures,
            "explanation": self.explanation,
        }


def grade_integrity(
    observed_classes: Iterable[str], failures: Sequence[CaptureFailure], *, sealed: bool
) -> IntegrityReport:
    """FAIL if a required class is missing or a permanent failure is unresolved; WARN if any
    capture failure was recorded; otherwise PASS at score >= 0.8, WARN >= 0.5, else FAIL."""
    seen = set(observed_classes)
    observed = [name for name in EVIDENCE_CLASSES if name in seen]
    missing = [name for name in EVIDENCE_CLASSES if name not in seen]
    score = round(len(observed) / len(EVIDENCE_CLASSES), 4)
    missing_required = [name for name in REQUIRED_CLASSES if name not in seen]
    unresolved_permanent = [f for f in failures if not f.transient and not f.resolved]
    if missing_required:
        grade = "FAIL"
        explanation = f"Required evidence missing: {', '.join(missing_required)}"
    elif unresolved_permanent:
        grade = "FAIL"
        kinds = ", ".join(
            sorted({f"{f.evidence_class}:{f.failure_type}" for f in unresolved_permanent})
        )
        explanation = f"Unresolved permanent capture failure: {kinds}"
    elif failures:
        grade = "WARN"
        explanation = f"{len(failures)} capture failure(s) recorded"
    elif score >= PASS_SCORE:
        grade = "PASS"
        explanation = f"Evidence score {score:.2f} >= {PASS_SCORE}"
    elif score >= WARN_SCORE:
        grade = "WARN"
        explanation = f"Evidence score {score:.2f} below {PASS_SCORE}; missing {', '.join(missing)}"
    else:
        grade = "FAIL"
        explanation = f"Evidence score {score:.2f} below {WARN_SCORE}"
    return IntegrityReport(
        state="SEALED" if sealed else "PENDING",
        grade=grade,
        score=score,
        observed=observed,
        missing=missing,
        failures=[failure.as_dict() for failure in failures],
        explanation=explanation,
    )
