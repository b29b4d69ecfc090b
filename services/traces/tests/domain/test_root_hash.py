"""The schema-1.1 root hash, checked against an implementation written here from API.md alone."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aos_proofs.trace_hash import compute_root_hash
from aos_traces.domain.trace import normalize_trace

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TENANT = "tnt_0123456789abcdef"


def independent_root_hash(seed: int, frozen: Any, tenant: str, steps: list[dict[str, Any]]) -> str:
    def canon(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    chain = sha(f"{seed}:{frozen}:{tenant}")
    for step in sorted(steps, key=lambda s: s["step_index"]):
        status = step.get("status", "success")
        payload = {
            "step_index": step["step_index"],
            "skill_id": step["skill_id"],
            "input_hash": step.get("input_hash") or sha(canon(step.get("params", {})))[:16],
            "output_hash": step.get("output_hash") or sha(canon(step.get("outcome_data")))[:16],
            "rng_state_before": step.get("rng_state_before"),
            "outcome": status if status in ("success", "skipped") else "failure",
            "idempotency_key": step.get("idempotency_key"),
            "replay_behavior": step.get("replay_behavior", "execute"),
        }
        chain = sha(f"{chain}:{sha(canon(payload))}")
    return chain


def sample(run_id: str = "run_1") -> dict[str, Any]:
    return {
        "run_id": run_id,
        "seed": 7,
        "frozen_timestamp": "2026-01-01T00:00:00Z",
        "steps": [
            {
                "step_index": 0,
                "skill_id": "http",
                "params": {"url": "x"},
                "status": "success",
                "outcome_data": {"ok": True},
                "rng_state_before": "r0",
                "idempotency_key": "k0",
            },
            {
                "step_index": 1,
                "skill_id": "llm",
                "params": {"p": 1},
                "status": "retry",
                "outcome_data": None,
                "replay_behavior": "check",
                "duration_ms": 12,
            },
            {"step_index": 2, "skill_id": "db", "status": "skipped", "replay_behavior": "skip"},
        ],
    }


def test_server_hash_matches_independent_implementation() -> None:
    raw = sample()
    trace = normalize_trace(raw, TENANT, NOW)
    assert trace.root_hash == independent_root_hash(7, "2026-01-01T00:00:00Z", TENANT, raw["steps"])


def test_common_compute_root_hash_matches_independent_implementation() -> None:
    steps = [
        {
            "step_index": 1,
            "skill_id": "b",
            "input_hash": "i1",
            "output_hash": "o1",
            "status": "failure",
            "replay_behavior": "execute",
        },
        {
            "step_index": 0,
            "skill_id": "a",
            "input_hash": "i0",
            "output_hash": "o0",
            "status": "retry",
            "replay_behavior": "skip",
            "idempotency_key": "k",
        },
    ]
    assert compute_root_hash(42, None, TENANT, steps) == independent_root_hash(
        42, None, TENANT, steps
    )


def test_same_content_under_two_run_ids_hashes_the_same() -> None:
    first = normalize_trace(sample("run_a"), TENANT, NOW)
    second = normalize_trace(sample("run_b"), TENANT, NOW)
    assert first.root_hash == second.root_hash


def test_retry_and_failure_hash_alike() -> None:
    failed = sample()
    failed["steps"][1]["status"] = "failure"
    assert (
        normalize_trace(failed, TENANT, NOW).root_hash
        == normalize_trace(sample(), TENANT, NOW).root_hash
    )


def test_every_hashed_field_changes_the_hash() -> None:
    base = normalize_trace(sample(), TENANT, NOW).root_hash
    changes = [
        ("seed", 8),
        ("frozen_timestamp", "2026-01-01T00:00:01Z"),
        ("step.skill_id", "other"),
        ("step.step_index", 5),
        ("step.params", {"url": "y"}),
        ("step.outcome_data", {"ok": False}),
        ("step.input_hash", "feedfacefeedface"),
        ("step.output_hash", "feedfacefeedface"),
        ("step.rng_state_before", "r1"),
        ("step.status", "failure"),
        ("step.idempotency_key", "k1"),
        ("step.replay_behavior", "check"),
    ]
    for name, value in changes:
        raw = sample()
        if name.startswith("step."):
            raw["steps"][0][name[5:]] = value
        else:
            raw[name] = value
        assert normalize_trace(raw, TENANT, NOW).root_hash != base, name
    assert normalize_trace(sample(), "tnt_other", NOW).root_hash != base


def test_fields_outside_the_hash_do_not_change_it() -> None:
    base = normalize_trace(sample(), TENANT, NOW).root_hash
    raw = sample()
    raw["steps"][0].update(duration_ms=999, timestamp="2020-01-01T00:00:00Z", cost_cents=5)
    raw["metadata"] = {"env": "prod"}
    raw["agent_id"] = "agent-x"
    assert normalize_trace(raw, TENANT, NOW).root_hash == base


def test_hot_path_hashing_matches_aos_common() -> None:
    from aos_proofs.trace_hash import hash_data as common_hash_data
    from aos_proofs.trace_hash import step_hash as common_step_hash
    from aos_traces.domain import hashing

    values = [
        None,
        {},
        {"b": 1, "a": [1.5, 1e16, 1e-07, -0.0]},
        "héllo ✓",
        {"k": {"z": None}},
        [True, False, 2**70],
    ]
    for value in values:
        assert hashing.hash_data(value) == common_hash_data(value)
    step = {
        "step_index": 3,
        "skill_id": "é",
        "input_hash": "i",
        "output_hash": None,
        "rng_state_before": None,
        "status": "retry",
        "idempotency_key": "k",
        "replay_behavior": "skip",
    }
    assert hashing.step_hash(3, "é", "i", None, None, "failure", "k", "skip") == common_step_hash(
        step
    )


def test_written_out_step_payload_matches_json_dumps_for_awkward_strings() -> None:
    from aos_proofs.trace_hash import step_hash as common_step_hash
    from aos_traces.domain import hashing

    for text in ['quote " and \\ backslash', "tab\tnew\nline\x01\x7f", "emoji 🚀 é", ""]:
        step = {
            "step_index": 2**40,
            "skill_id": text,
            "input_hash": text,
            "output_hash": text,
            "rng_state_before": text,
            "status": "success",
            "idempotency_key": text,
            "replay_behavior": "execute",
        }
        assert hashing.step_hash(2**40, text, text, text, text, "success", text, "execute") == (
            common_step_hash(step)
        )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_fast_canonical_form_equals_json_dumps(value: object) -> None:
    from aos_proofs.trace_hash import canonical_json
    from aos_traces.domain.hashing import canonical_bytes

    assert canonical_bytes(value) == canonical_json(value).encode()


@pytest.mark.parametrize(
    "value",
    [1e-05, 6.8e-05, 1e16, 1.5e300, -0.0, "\x7f", "caf\u00e9", 2**64, {"b": None, "a": 0.1}],
)
def test_fast_canonical_form_edge_cases(value: object) -> None:
    from aos_proofs.trace_hash import canonical_json
    from aos_traces.domain.hashing import canonical_bytes

    assert canonical_bytes(value) == canonical_json(value).encode()


# --- fast paths (written-out step payload, orjson canonical form) against the references ------

_field_text = st.text(max_size=12) | st.sampled_from(['a"b', "a\\b", "\x7f", "é", "", "null"])


@settings(max_examples=500, deadline=None)
@given(
    step_index=st.integers(min_value=0, max_value=2**40),
    skill_id=_field_text,
    input_hash=_field_text,
    output_hash=_field_text,
    rng_state_before=st.none() | _field_text,
    status=st.sampled_from(["success", "failure", "retry", "skipped"]),
    idempotency_key=st.none() | _field_text,
    replay_behavior=st.sampled_from(["execute", "skip", "check"]),
)
def test_written_out_step_hash_equals_aos_common(
    step_index: int,
    skill_id: str,
    input_hash: str,
    output_hash: str,
    rng_state_before: str | None,
    status: str,
    idempotency_key: str | None,
    replay_behavior: str,
) -> None:
    from aos_proofs.trace_hash import step_hash as common_step_hash
    from aos_traces.domain import hashing
    from aos_traces.domain.steps import outcome_for

    fields = {
        "step_index": step_index,
        "skill_id": skill_id,
        "input_hash": input_hash,
        "output_hash": output_hash,
        "rng_state_before": rng_state_before,
        "status": status,
        "idempotency_key": idempotency_key,
        "replay_behavior": replay_behavior,
    }
    assert hashing.step_hash(
        step_index,
        skill_id,
        input_hash,
        output_hash,
        rng_state_before,
        outcome_for(status),
        idempotency_key,
        replay_behavior,
    ) == common_step_hash(fields)


def test_written_out_step_hash_never_pastes_a_non_string() -> None:
    from aos_proofs.trace_hash import step_hash as common_step_hash
    from aos_traces.domain import hashing

    fields = {
        "step_index": 1,
        "skill_id": 5,
        "input_hash": None,
        "output_hash": "o",
        "rng_state_before": 7,
        "status": "success",
        "idempotency_key": None,
        "replay_behavior": "execute",
    }
    assert hashing.step_hash(1, 5, None, "o", 7, "success", None, "execute") == common_step_hash(  # type: ignore[arg-type]
        fields
    )


json_payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    params=json_payloads,
    outcome=json_payloads,
    key=st.none() | st.text(st.characters(blacklist_characters="\x00"), max_size=10),
)
def test_whole_trace_hash_equals_independent_implementation(
    params: Any, outcome: Any, key: str | None
) -> None:
    step = {
        "step_index": 0,
        "skill_id": "s",
        "params": params,
        "outcome_data": outcome,
        "idempotency_key": key,
    }
    raw = {"run_id": "run_h", "seed": 3, "steps": [step]}
    expected_step = {**step, "params": {} if params is None else params}
    assert normalize_trace(raw, TENANT, NOW).root_hash == independent_root_hash(
        3, None, TENANT, [expected_step]
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), {"a": float("nan")}])
def test_fast_canonical_form_non_finite_floats(value: object) -> None:
    from aos_proofs.trace_hash import canonical_json
    from aos_traces.domain.hashing import canonical_bytes, hash_and_json

    assert canonical_bytes(value) == canonical_json(value).encode()
    assert hash_and_json(value)[1] is None


@pytest.mark.parametrize("value", [{"a": "1e5"}, {"e": 10}, [1.25e-3], {"x": "0.00001"}])
def test_fast_canonical_form_exponent_look_alikes(value: object) -> None:
    from aos_proofs.trace_hash import canonical_json
    from aos_traces.domain.hashing import canonical_bytes

    assert canonical_bytes(value) == canonical_json(value).encode()
