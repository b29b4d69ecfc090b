"""Cost and trace batching: flush points, limits, and no duplicates on retried batches."""

from __future__ import annotations

import pytest
from sdk_stub import Answer, StubServer, envelope, problem

from aos_sdk import AOSClient, ServerError


def _client(stub: StubServer, max_retries: int = 1) -> AOSClient:
    client = AOSClient("aos_test_key", stub.url, max_retries=max_retries)
    client._sleep = lambda _s: None
    return client


def _ids(seen):  # type: ignore[no-untyped-def]
    return envelope({"ids": [f"cr_{i}" for i, _ in enumerate(seen.body["records"])]})


def test_cost_batcher_flushes_every_n_and_on_exit(stub: StubServer) -> None:
    stub.default("POST", "/api/v1/cost/records/batch", _ids, 201)
    with _client(stub).cost_batcher(batch_size=3) as batcher:
        for i in range(7):
            batcher.add("gpt-4o", input_tokens=i, request_id=f"r{i}")
        assert batcher.batches_sent == 2
    sent = stub.sent("POST", "/api/v1/cost/records/batch")
    assert [len(r.body["records"]) for r in sent] == [3, 3, 1]
    assert len({r.headers["idempotency-key"] for r in sent}) == 3
    assert len(batcher.results) == 7


def test_failed_batch_is_resent_with_its_original_key(stub: StubServer) -> None:
    stub.script(
        "POST",
        "/api/v1/cost/records/batch",
        Answer(503, problem(503, "down")),
        Answer(503, problem(503, "down")),
    )
    stub.default("POST", "/api/v1/cost/records/batch", _ids, 201)
    batcher = _client(stub).cost_batcher(batch_size=2)
    batcher.add("m", cost_cents=1)
    with pytest.raises(ServerError):
        batcher.add("m", cost_cents=2)
    batcher.add("m", cost_cents=3)
    batcher.flush()
    sent = stub.sent("POST", "/api/v1/cost/records/batch")
    assert sent[0].headers["idempotency-key"] == sent[2].headers["idempotency-key"]
    assert sent[2].body == sent[0].body
    assert [len(r.body["records"]) for r in sent] == [2, 2, 2, 1]


def test_unknown_cost_field_is_refused_locally(stub: StubServer) -> None:
    with pytest.raises(TypeError, match="tokens"):
        _client(stub).record_cost("m", tokens=3)
    assert stub.requests == []


def test_traces_batch_splits_at_the_server_limit(stub: StubServer) -> None:
    stub.default(
        "POST",
        "/api/v1/traces/batch",
        lambda seen: envelope({"results": [{"trace_id": t["trace_id"]} for t in seen.body]}),
        201,
    )
    traces = [
        {"trace_id": f"trace_{i:016x}", "run_id": f"run_{i:016x}", "steps": []} for i in range(1001)
    ]
    results = _client(stub).post_traces_batch(traces)
    sent = stub.sent("POST", "/api/v1/traces/batch")
    assert [len(r.body) for r in sent] == [1000, 1]
    assert [r["trace_id"] for r in results] == [t["trace_id"] for t in traces]


def test_traces_batch_splits_by_step_count() -> None:
    from aos_sdk._api import trace_batches

    traces = [{"trace_id": f"t{i}", "steps": [{}] * 20_000} for i in range(5)]
    assert [len(c.json) for c in trace_batches(traces)] == [2, 2, 1]


def test_trace_recorder_builds_a_hashed_document_without_a_server() -> None:
    from aos_sdk import TraceRecorder, trace_root_hash

    with TraceRecorder("tnt_0000000000000001", "w", "t", run_id="run_0000000000000001") as rec:
        with rec.step("a", {"x": 1}) as step:
            step.output = 2
    doc = rec.document()
    assert doc["run_id"] == "run_0000000000000001" and doc["status"] == "completed"
    assert doc["root_hash"] == rec.root_hash == trace_root_hash(doc)
