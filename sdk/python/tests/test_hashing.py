"""The SDK's local schema-1.1 hash against an independent implementation written here."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

import pytest

from aos_sdk.hashing import hash_data, root_hash, step_hash, trace_root_hash
from aos_sdk.recording import RunRecord

TENANT = "tnt_00112233aabbccdd"


def _independent_root(
    seed: int, frozen: str | None, tenant: str, steps: list[dict[str, Any]]
) -> str:
    """API.md's rule, restated from the text without looking at the SDK code."""

    def sha(s: str) -> str:
        return hashlib.sha256(s.encode()).hexdigest()

    def canon(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), sort_keys=True)

    outcome_of = {
        "success": "success",
        "skipped": "skipped",
        "failure": "failure",
        "retry": "failure",
    }

    def one(step: dict[str, Any]) -> str:
        return sha(
            canon(
                {
                    "idempotency_key": step.get("idempotency_key"),
                    "input_hash": step.get("input_hash"),
                    "outcome": outcome_of[step["status"]],
                    "output_hash": step.get("output_hash"),
                    "replay_behavior": step.get("replay_behavior", "execute"),
                    "rng_state_before": step.get("rng_state_before"),
                    "skill_id": step.get("skill_id"),
                    "step_index": step["step_index"],
                }
            )
        )

    ordered = sorted(steps, key=lambda s: s["step_index"])
    start = sha(f"{seed}:{frozen}:{tenant}")
    return functools.reduce(lambda chain, s: sha(chain + ":" + one(s)), ordered, start)


def _h16(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:16]


def _steps() -> list[dict[str, Any]]:
    return [
        {
            "step_index": 0,
            "skill_id": "search",
            "status": "success",
            "input_hash": _h16({"q": "revenue"}),
            "output_hash": _h16({"hits": 3}),
            "idempotency_key": None,
            "rng_state_before": None,
            "replay_behavior": "execute",
        },
        {
            "step_index": 1,
            "skill_id": "summarise",
            "status": "retry",
            "input_hash": _h16({"text": "ünïcode ✓", "n": 1.5}),
            "output_hash": None,
            "idempotency_key": "idem-1",
            "rng_state_before": "abc",
            "replay_behavior": "check",
        },
        {
            "step_index": 2,
            "skill_id": "email",
            "status": "skipped",
            "input_hash": _h16([1, 2, 3]),
            "output_hash": _h16("done"),
            "idempotency_key": None,
            "rng_state_before": None,
            "replay_behavior": "skip",
        },
    ]


def test_hash_data_is_first_16_hex_of_sha256_of_canonical_json() -> None:
    value = {"b": [1, {"z": None, "a": "é"}], "a": 2.5}
    assert hash_data(value) == _h16(value)


def test_root_hash_matches_independent_implementation() -> None:
    steps = _steps()
    expected = _independent_root(42, "2026-01-01T00:00:00Z", TENANT, steps)
    assert (
        root_hash(seed=42, frozen_timestamp="2026-01-01T00:00:00Z", tenant_id=TENANT, steps=steps)
        == expected
    )


def test_root_hash_matches_the_server_library() -> None:
    common = pytest.importorskip("aos_proofs.trace_hash")
    steps = _steps()
    assert root_hash(
        seed=7, frozen_timestamp=None, tenant_id=TENANT, steps=steps
    ) == common.compute_root_hash(7, None, TENANT, steps)


def test_root_hash_ignores_step_order_in_the_list() -> None:
    steps = _steps()
    kwargs = {"seed": 42, "frozen_timestamp": "t", "tenant_id": TENANT}
    assert root_hash(steps=steps, **kwargs) == root_hash(steps=list(reversed(steps)), **kwargs)


def test_retry_status_hashes_like_failure() -> None:
    step = {**_steps()[1], "status": "retry"}
    assert step_hash(step) == step_hash({**step, "status": "failure"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("skill_id", "other"),
        ("input_hash", "0" * 16),
        ("output_hash", "1" * 16),
        ("rng_state_before", "xyz"),
        ("status", "failure"),
        ("idempotency_key", "k2"),
        ("replay_behavior", "skip"),
        ("step_index", 5),
    ],
)
def test_any_hashed_step_field_changes_the_root(field: str, value: Any) -> None:
    steps = _steps()
    before = root_hash(seed=42, frozen_timestamp="t", tenant_id=TENANT, steps=steps)
    steps[0] = {**steps[0], field: value}
    assert root_hash(seed=42, frozen_timestamp="t", tenant_id=TENANT, steps=steps) != before


@pytest.mark.parametrize(
    ("field", "value"), [("seed", 43), ("frozen_timestamp", "t2"), ("tenant_id", "tnt_x")]
)
def test_any_hashed_trace_field_changes_the_root(field: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"seed": 42, "frozen_timestamp": "t", "tenant_id": TENANT}
    before = root_hash(steps=_steps(), **kwargs)
    kwargs[field] = value
    assert root_hash(steps=_steps(), **kwargs) != before


def _recorded_run(run_id: str) -> RunRecord:
    run = RunRecord(
        worker_id="w",
        task="t",
        run_id=run_id,
        tenant_id=TENANT,
        frozen_timestamp="2026-01-01T00:00:00Z",
    )
    run.start()
    for i, skill in enumerate(["a", "b", "c"]):
        step = run.new_step(skill, {"i": i})
        step.start()
        step.output = {"r": i * 2}
        step.finish(None)
    run.finish(None)
    return run


def test_same_content_under_two_run_ids_hashes_the_same() -> None:
    assert (
        _recorded_run("run_aaaaaaaaaaaaaaaa").root_hash
        == _recorded_run("run_bbbbbbbbbbbbbbbb").root_hash
    )


def test_durations_timestamps_and_metadata_are_outside_the_hash() -> None:
    trace = _recorded_run("run_aaaaaaaaaaaaaaaa").trace_document()
    changed = {**trace, "metadata": {"x": 1}, "started_at": "later"}
    changed["steps"] = [
        {**s, "duration_ms": 999.0, "timestamp": "later", "params": {"other": 1}}
        for s in trace["steps"]
    ]
    assert trace_root_hash(changed) == trace_root_hash(trace) == trace["root_hash"]


def test_trace_document_root_hash_matches_independent_implementation() -> None:
    trace = _recorded_run("run_aaaaaaaaaaaaaaaa").trace_document()
    assert trace["root_hash"] == _independent_root(
        42, trace["frozen_timestamp"], TENANT, trace["steps"]
    )
    assert trace["steps"][1]["input_hash"] == _h16({"i": 1})
    assert trace["steps"][1]["output_hash"] == _h16({"r": 2})


def test_non_json_params_hash_as_the_json_the_server_receives() -> None:
    import datetime

    run = RunRecord(worker_id="w", task="t", run_id="run_1", tenant_id=TENANT)
    when = datetime.date(2026, 1, 2)
    step = run.new_step("s", {"when": when})
    assert step.params == {"when": "2026-01-02"}
    assert step.input_hash == _h16({"when": "2026-01-02"})


def test_output_mutated_inside_the_step_is_hashed_as_finally_left() -> None:
    run = RunRecord(worker_id="w", task="t", run_id="run_1", tenant_id=TENANT)
    step = run.new_step("s", {})
    step.start()
    result: dict[str, Any] = {"a": 1}
    step.output = result
    assert step.output_hash == _h16({"a": 1})
    result["b"] = 2
    step.finish(None)
    assert step.output_hash == _h16({"a": 1, "b": 2})
    assert step.document()["outcome_data"] == {"output": {"a": 1, "b": 2}}
