from datetime import UTC, datetime

import pytest

from aos_traces.domain.errors import TraceInputError
from aos_traces.domain.steps import level_for, outcome_for
from aos_traces.domain.trace import TRACE_ID_REQUIRED, normalize_trace, trace_id_for_run

NOW = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "level"),
    [
        ("success", "INFO"),
        ("skipped", "INFO"),
        ("retry", "WARN"),
        ("failure", "ERROR"),
        ("error", "ERROR"),
    ],
)
def test_level_derives_from_status(status: str, level: str) -> None:
    assert level_for(status) == level


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("success", "success"), ("skipped", "skipped"), ("retry", "failure"), ("failure", "failure")],
)
def test_outcome_maps_retry_to_failure(status: str, outcome: str) -> None:
    assert outcome_for(status) == outcome


def test_client_level_is_ignored_in_favour_of_status() -> None:
    trace = normalize_trace(
        {"run_id": "r", "steps": [{"skill_id": "a", "status": "retry", "level": "INFO"}]}, "t", NOW
    )
    assert trace.steps[0].level == "WARN"
    assert trace.level == "WARN"


def test_error_status_is_stored_as_failure() -> None:
    trace = normalize_trace(
        {"run_id": "r", "steps": [{"skill_id": "a", "status": "error"}]}, "t", NOW
    )
    assert trace.steps[0].status == "failure"
    assert trace.failure_count == 1


def test_trace_without_ids_is_rejected() -> None:
    with pytest.raises(TraceInputError, match=TRACE_ID_REQUIRED):
        normalize_trace({"steps": []}, "t", NOW)


def test_run_id_only_gets_a_stable_trace_id() -> None:
    trace = normalize_trace({"run_id": "run_x"}, "t", NOW)
    assert trace.trace_id == trace_id_for_run("run_x")
    assert trace.trace_id.startswith("trace_") and len(trace.trace_id) == 22


def test_defaults_are_filled() -> None:
    trace = normalize_trace({"trace_id": "trace_1", "steps": [{"skill_name": "s"}]}, "t", NOW)
    assert (trace.run_id, trace.seed, trace.schema_version, trace.status) == (
        "trace_1",
        42,
        "1.1",
        "running",
    )
    step = trace.steps[0]
    assert (step.skill_id, step.status, step.source, step.replay_behavior, step.timestamp) == (
        "s",
        "success",
        "engine",
        "execute",
        NOW,
    )


def test_client_root_hash_mismatch_is_flagged() -> None:
    trace = normalize_trace({"run_id": "r", "root_hash": "f" * 64}, "t", NOW)
    assert trace.hash_verified is False
    good = normalize_trace({"run_id": "r", "root_hash": trace.root_hash}, "t", NOW)
    assert good.hash_verified is True


def test_duplicate_step_indexes_are_rejected() -> None:
    with pytest.raises(TraceInputError, match="unique"):
        normalize_trace(
            {"run_id": "r", "steps": [{"skill_id": "a"}, {"skill_id": "b", "step_index": 0}]},
            "t",
            NOW,
        )


@pytest.mark.parametrize(
    "raw",
    [
        {"run_id": "r", "steps": "x"},
        {"run_id": "r", "steps": [{"skill_id": "a", "status": "weird"}]},
        {"run_id": "r", "steps": [{"skill_id": "a", "timestamp": "yesterday"}]},
        {"run_id": "r", "steps": [{"skill_id": "a", "cost_cents": -1}]},
        {"run_id": "r", "steps": [{}]},
        {"run_id": "r", "seed": "x"},
        {"run_id": "r", "plan": {}},
        {"run_id": ["r"]},
    ],
)
def test_bad_input_raises_input_error(raw: dict) -> None:
    with pytest.raises(TraceInputError):
        normalize_trace(raw, "t", NOW)


def test_hashes_are_computed_before_redaction() -> None:
    from aos_proofs.trace_hash import hash_data

    params = {"password": "hunter2", "q": "a@b.io"}
    trace = normalize_trace(
        {"run_id": "r", "steps": [{"skill_id": "a", "params": params}]}, "t", NOW
    )
    assert trace.steps[0].input_hash == hash_data(params)
    assert trace.steps[0].params == {"password": "<REDACTED>", "q": "<REDACTED_EMAIL>"}


def test_stored_json_is_the_redacted_payload() -> None:
    import orjson

    from aos_traces.domain.redaction import redact

    params = {"q": "mail a@b.io", "api_key": "sk-1", "max_tokens": 256}
    outcome = {"answer": "clean", "n": [1, 2.5, True]}
    trace = normalize_trace(
        {
            "run_id": "run_json",
            "steps": [{"skill_id": "s", "params": params, "outcome_data": outcome}],
        },
        "tnt_1",
        NOW,
    )
    step = trace.steps[0]
    stored_params = step.stored_params()
    stored_outcome = step.stored_outcome()
    assert stored_params is not None and stored_outcome is not None
    assert orjson.loads(stored_params) == redact(params)
    assert "sk-1" not in stored_params and "a@b.io" not in stored_params
    assert orjson.loads(stored_outcome) == outcome
    assert orjson.loads(stored_params) != params


def test_missing_outcome_is_stored_as_sql_null() -> None:
    trace = normalize_trace({"run_id": "run_null", "steps": [{"skill_id": "s"}]}, "tnt_1", NOW)
    assert trace.steps[0].stored_outcome() is None
    assert trace.steps[0].stored_params() == "{}"


def test_first_invalid_field_is_reported_in_field_order() -> None:
    raw = {
        "run_id": "run_order",
        "steps": [{"skill_id": "s", "cost_cents": -1, "input_hash": 5.5j}],
    }
    with pytest.raises(TraceInputError, match=r"steps\[0\]\.cost_cents"):
        normalize_trace(raw, "tnt_1", NOW)
