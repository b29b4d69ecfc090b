"""Runs and steps as the SDK puts them on the wire (against the local stub server)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sdk_stub import Answer, StubServer, envelope, problem

from aos_sdk import AOSClient, ConflictError, HashMismatchWarning, ServerError

TENANT = "tnt_0123456789abcdef"


def _client(stub: StubServer) -> AOSClient:
    client = AOSClient("aos_test_key", stub.url, max_retries=2)
    client._sleep = lambda _s: None
    return client


def _independent_root(trace: dict[str, Any]) -> str:
    def sha(s: str) -> str:
        return hashlib.sha256(s.encode()).hexdigest()

    chain = sha(f"{trace['seed']}:{trace['frozen_timestamp']}:{trace['tenant_id']}")
    for s in sorted(trace["steps"], key=lambda s: s["step_index"]):
        payload = {
            "step_index": s["step_index"],
            "skill_id": s["skill_id"],
            "input_hash": s["input_hash"],
            "output_hash": s["output_hash"],
            "rng_state_before": s["rng_state_before"],
            "outcome": "success"
            if s["status"] == "success"
            else ("skipped" if s["status"] == "skipped" else "failure"),
            "idempotency_key": s["idempotency_key"],
            "replay_behavior": s["replay_behavior"],
        }
        chain = sha(chain + ":" + sha(json.dumps(payload, sort_keys=True, separators=(",", ":"))))
    return chain


def test_run_with_three_steps_posts_a_trace_with_the_local_root_hash(aos_stub: StubServer) -> None:
    client = _client(aos_stub)
    with client.run("research-agent", "Summarise Q3", metadata={"team": "x"}) as run:
        for i, skill in enumerate(["search", "read", "write"]):
            with run.step(skill, {"n": i}) as step:
                step.output = {"result": i}
                step.tokens = 10
                step.cost_cents = 0.5
    start = aos_stub.sent("POST", "/api/v1/runs")[0]
    assert start.body == {"worker_id": "research-agent", "task": "Summarise Q3", "run_id": run.id}
    trace = aos_stub.sent("POST", "/api/v1/traces")[0].body["trace"]
    assert (
        trace["run_id"] == run.id
        and trace["tenant_id"] == TENANT
        and trace["agent_id"] == "research-agent"
    )
    assert [s["skill_id"] for s in trace["steps"]] == ["search", "read", "write"]
    assert [s["status"] for s in trace["steps"]] == ["success"] * 3
    assert trace["schema_version"] == "1.1" and trace["seed"] == 42
    assert trace["root_hash"] == run.root_hash == _independent_root(trace)
    assert run.hash_verified is True
    patch = aos_stub.sent("PATCH", f"/api/v1/runs/{run.id}")[0]
    assert patch.body["status"] == "succeeded"
    assert patch.body["total_tokens"] == 30 and patch.body["cost_cents"] == 1.5
    assert isinstance(patch.body["total_latency_ms"], int)


def test_step_records_duration_timestamp_and_hashes(aos_stub: StubServer) -> None:
    client = _client(aos_stub)
    with client.run("w", "t") as run, run.step("s", {"q": 1}) as step:
        step.output = "answer"
    doc = run.trace()["steps"][0]
    assert doc["duration_ms"] >= 0 and doc["timestamp"].endswith("Z")
    assert doc["input_hash"] == hashlib.sha256(b'{"q":1}').hexdigest()[:16]
    assert doc["output_hash"] == hashlib.sha256(b'"answer"').hexdigest()[:16]
    assert doc["level"] == "INFO" and doc["source"] == "external"


def test_exception_in_step_marks_failure_fails_the_run_and_propagates(aos_stub: StubServer) -> None:
    client = _client(aos_stub)
    with pytest.raises(ZeroDivisionError), client.run("w", "t") as run:
        with run.step("ok", {}) as step:
            step.output = 1
        with run.step("boom", {"x": 1}):
            raise ZeroDivisionError("division by zero")
    trace = aos_stub.sent("POST", "/api/v1/traces")[0].body["trace"]
    failed = trace["steps"][1]
    assert failed["status"] == "failure" and failed["level"] == "ERROR"
    assert failed["outcome_code"] == "ZeroDivisionError"
    assert failed["output_hash"] == hashlib.sha256(b"null").hexdigest()[:16]
    assert trace["status"] == "failed"
    assert aos_stub.sent("PATCH", "/api/v1/runs/")[0].body["status"] == "failed"


def test_interrupted_run_is_completed_as_aborted(aos_stub: StubServer) -> None:
    client = _client(aos_stub)
    with pytest.raises(KeyboardInterrupt), client.run("w", "t"):
        raise KeyboardInterrupt
    assert aos_stub.sent("PATCH", "/api/v1/runs/")[0].body["status"] == "aborted"


def test_trace_post_failure_surfaces_after_the_run_is_still_completed(aos_stub: StubServer) -> None:
    aos_stub.script("POST", "/api/v1/traces", *[Answer(503, problem(503, "down"))] * 3)
    client = _client(aos_stub)
    with pytest.raises(ServerError, match="down"), client.run("w", "t") as run, run.step("s", {}):
        pass
    assert aos_stub.sent("PATCH", "/api/v1/runs/")[0].body["status"] == "succeeded"


def test_trace_post_failure_does_not_mask_the_blocks_exception(aos_stub: StubServer) -> None:
    aos_stub.script("POST", "/api/v1/traces", *[Answer(503, problem(503, "down"))] * 3)
    client = _client(aos_stub)
    with pytest.raises(ValueError, match="mine"), client.run("w", "t") as run:
        raise ValueError("mine")
    assert [e.status for e in run.finalize_errors] == [503]


def test_server_hash_mismatch_warns(aos_stub: StubServer) -> None:
    aos_stub.script(
        "POST", "/api/v1/traces", Answer(201, envelope({"trace_id": "t", "root_hash": "0" * 64}))
    )
    client = _client(aos_stub)
    with pytest.warns(HashMismatchWarning), client.run("w", "t") as run:
        pass
    assert run.hash_verified is False


def test_tenant_is_fetched_once_and_can_be_given(aos_stub: StubServer) -> None:
    client = _client(aos_stub)
    for _ in range(2):
        with client.run("w", "t"):
            pass
    assert len(aos_stub.sent("GET", "/api/v1/tenant")) == 1
    given = AOSClient("aos_k", aos_stub.url, tenant_id="tnt_ffffffffffffffff")
    with given.run("w", "t") as run:
        pass
    assert len(aos_stub.sent("GET", "/api/v1/tenant")) == 1
    assert run.trace()["tenant_id"] == "tnt_ffffffffffffffff"


def test_run_cost_is_attributed_to_the_run(aos_stub: StubServer) -> None:
    aos_stub.default(
        "POST", "/api/v1/cost/record", envelope({"id": "cr_1", "status": "recorded"}), 201
    )
    client = _client(aos_stub)
    with client.run("w", "t") as run:
        run.record_cost("gpt-4o", input_tokens=5)
    assert aos_stub.sent("POST", "/api/v1/cost/record")[0].body == {
        "model": "gpt-4o",
        "input_tokens": 5,
        "workflow_id": run.id,
    }


def test_services_map_routes_each_prefix_to_its_service(
    stub: StubServer, aos_stub: StubServer
) -> None:
    client = AOSClient(
        "aos_k", "http://127.0.0.1:9", services={"tenants": aos_stub.url, "traces": aos_stub.url}
    )
    with client.run("w", "t"):
        pass
    assert len(aos_stub.sent("POST", "/api/v1/traces")) == 1
    assert client.url("/api/v1/cost/record") == "http://127.0.0.1:9/api/v1/cost/record"


def test_api_key_is_sent_in_x_aos_key(aos_stub: StubServer) -> None:
    _client(aos_stub).tenant()
    assert aos_stub.requests[0].headers["x-aos-key"] == "aos_test_key"


def test_completion_conflict_with_the_same_status_counts_as_done(aos_stub: StubServer) -> None:
    aos_stub.script("PATCH", "/api/v1/runs/", Answer(409, problem(409, "Run is already succeeded")))
    aos_stub.default(
        "GET",
        "/api/v1/runs/",
        lambda seen: {"id": seen.path.rsplit("/", 1)[1], "status": "succeeded"},
    )
    client = _client(aos_stub)
    with client.run("w", "t") as run:
        pass
    assert run.finalize_errors == []


def test_completion_conflict_with_another_status_is_raised(aos_stub: StubServer) -> None:
    aos_stub.script("PATCH", "/api/v1/runs/", Answer(409, problem(409, "Run is already aborted")))
    aos_stub.default("GET", "/api/v1/runs/", {"status": "aborted"})
    client = _client(aos_stub)
    with pytest.raises(ConflictError, match="already aborted"), client.run("w", "t"):
        pass


def test_nan_output_is_sent_as_a_string_and_hashed_as_such(aos_stub: StubServer) -> None:
    client = _client(aos_stub)
    with client.run("w", "t") as run, run.step("s", {"x": float("inf")}) as step:
        step.output = float("nan")
    sent = aos_stub.sent("POST", "/api/v1/traces")[0].body["trace"]["steps"][0]
    assert sent["params"] == {"x": "Infinity"}
    assert sent["output_hash"] == hashlib.sha256(b'"NaN"').hexdigest()[:16]
    assert run.hash_verified is True


def test_client_from_credentials_file_uses_gateway_key_and_tenant(
    aos_stub: StubServer, tmp_path: Any
) -> None:
    creds = tmp_path / "credentials.json"
    creds.write_text(
        json.dumps(
            {
                "gateway_url": aos_stub.url,
                "admin_key": "aos_admin",
                "tenant_id": "tnt_1111111111111111",
            }
        )
    )
    client = AOSClient.from_credentials(creds)
    with client.run("w", "t") as run:
        pass
    assert aos_stub.sent("GET", "/api/v1/tenant") == []
    assert aos_stub.requests[0].headers["x-aos-key"] == "aos_admin"
    assert run.trace()["tenant_id"] == "tnt_1111111111111111"
