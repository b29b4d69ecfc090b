from aos_traces.domain.integrity import CaptureFailure, grade_integrity

REQUIRED = ["environment", "trace", "trace_steps"]
ALL = [*REQUIRED, "activity", "provider", "policy_decisions"]


def test_missing_required_class_fails() -> None:
    report = grade_integrity(["trace", "trace_steps", "activity", "provider"], [], sealed=True)
    assert report.grade == "FAIL"
    assert report.missing == ["environment", "policy_decisions"]


def test_unresolved_permanent_failure_fails() -> None:
    failure = CaptureFailure("activity", "pre_attach", resolved=False)
    assert grade_integrity(ALL, [failure], sealed=True).grade == "FAIL"


def test_resolved_permanent_failure_only_warns() -> None:
    failure = CaptureFailure("activity", "context_invalid", resolved=True)
    assert grade_integrity(ALL, [failure], sealed=True).grade == "WARN"


def test_transient_failure_warns() -> None:
    failure = CaptureFailure("provider", "provider_timeout", resolved=False)
    report = grade_integrity(ALL, [failure], sealed=False)
    assert (report.grade, report.state) == ("WARN", "PENDING")
    assert report.failures[0]["transient"] is True


def test_full_evidence_passes() -> None:
    report = grade_integrity(ALL, [], sealed=True)
    assert (report.grade, report.score, report.state) == ("PASS", 1.0, "SEALED")


def test_score_between_half_and_threshold_warns() -> None:
    report = grade_integrity([*REQUIRED, "activity"], [], sealed=True)
    assert (report.grade, report.score) == ("WARN", 0.6667)


def test_five_of_six_passes() -> None:
    assert grade_integrity(ALL[:5], [], sealed=True).grade == "PASS"


def test_required_only_is_exactly_half_and_warns() -> None:
    assert grade_integrity(REQUIRED, [], sealed=True).grade == "WARN"
