"""Retries against a real local HTTP server: backoff, Retry-After, and one key per logical write."""

from __future__ import annotations

import uuid
from email.utils import formatdate

import pytest
from sdk_stub import Answer, StubServer, envelope, problem

from aos_sdk import (
    AOSClient,
    AOSConnectionError,
    BadRequestError,
    BudgetExceededError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from aos_sdk._http import parse_retry_after


def _client(stub: StubServer, max_retries: int = 3) -> tuple[AOSClient, list[float]]:
    client = AOSClient("aos_test_key", stub.url, max_retries=max_retries, timeout=5.0)
    slept: list[float] = []
    client._sleep = slept.append
    return client, slept


def test_503_with_retry_after_then_201_reuses_the_idempotency_key(stub: StubServer) -> None:
    stub.script(
        "POST",
        "/api/v1/cost/record",
        Answer(503, problem(503, "Upstream cost-intel unavailable"), {"Retry-After": "2"}),
        Answer(201, envelope({"id": "cr_0000000000000001", "status": "recorded"})),
    )
    client, slept = _client(stub)
    result = client.record_cost("gpt-4o", input_tokens=10, output_tokens=5)
    assert result["id"] == "cr_0000000000000001"
    sent = stub.sent("POST", "/api/v1/cost/record")
    assert len(sent) == 2
    keys = {r.headers["idempotency-key"] for r in sent}
    assert len(keys) == 1
    uuid.UUID(keys.pop(), version=4)
    assert slept == [2.0]


def test_each_logical_write_gets_its_own_key(stub: StubServer) -> None:
    stub.default("POST", "/api/v1/cost/record", envelope({"id": "cr_1"}), 201)
    client, _ = _client(stub)
    client.record_cost("m", cost_cents=1)
    client.record_cost("m", cost_cents=1)
    keys = [r.headers["idempotency-key"] for r in stub.sent("POST", "/api/v1/cost/record")]
    assert len(set(keys)) == 2


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_back_off_with_jitter_within_the_cap(
    stub: StubServer, status: int
) -> None:
    stub.script(
        "POST",
        "/api/v1/traces",
        Answer(status, problem(status, "busy")),
        Answer(status, problem(status, "busy")),
    )
    stub.default("POST", "/api/v1/traces", envelope({"trace_id": "trace_1", "root_hash": "x"}), 201)
    client, slept = _client(stub)
    client.post_trace({"trace_id": "trace_1"})
    assert len(slept) == 2
    assert 0.0 <= slept[0] <= 0.5 and 0.0 <= slept[1] <= 1.0
    assert len({r.headers["idempotency-key"] for r in stub.sent("POST", "/api/v1/traces")}) == 1


def test_gives_up_after_max_retries_with_a_typed_error(stub: StubServer) -> None:
    stub.default("POST", "/api/v1/traces", problem(503, "Upstream traces unavailable"), 503)
    client, slept = _client(stub, max_retries=2)
    with pytest.raises(ServerError) as info:
        client.post_trace({"trace_id": "trace_1"})
    assert info.value.status == 503
    assert info.value.detail == "Upstream traces unavailable"
    assert info.value.request_id == "req-abcdefabcdef"
    assert len(stub.sent("POST", "/api/v1/traces")) == 3
    assert len(slept) == 2


def test_client_errors_are_not_retried(stub: StubServer) -> None:
    stub.default("POST", "/api/v1/traces", problem(400, "trace must have run_id or trace_id"), 400)
    client, slept = _client(stub)
    with pytest.raises(BadRequestError, match="trace must have run_id or trace_id"):
        client.post_trace({})
    assert len(stub.sent("POST", "/api/v1/traces")) == 1
    assert slept == []


def test_retry_after_longer_than_the_cap_is_not_waited_for(stub: StubServer) -> None:
    stub.default("GET", "/api/v1/tenant", problem(429, "Rate limit exceeded"), 429)
    stub.script(
        "GET",
        "/api/v1/tenant",
        Answer(429, problem(429, "Rate limit exceeded"), {"Retry-After": "3600"}),
    )
    client, slept = _client(stub)
    with pytest.raises(RateLimitError) as info:
        client.tenant()
    assert info.value.retry_after == "3600"
    assert slept == []


def test_in_progress_conflict_is_retried_with_the_same_key(stub: StubServer) -> None:
    stub.script(
        "POST",
        "/api/v1/traces",
        Answer(409, problem(409, "A request with this idempotency key is in progress")),
        Answer(201, envelope({"trace_id": "trace_1", "root_hash": "h"})),
    )
    client, _ = _client(stub)
    assert client.post_trace({"trace_id": "trace_1"})["root_hash"] == "h"
    assert len({r.headers["idempotency-key"] for r in stub.sent("POST", "/api/v1/traces")}) == 1


def test_dropped_connection_is_retried_with_the_same_key(stub: StubServer) -> None:
    stub.script(
        "POST",
        "/api/v1/cost/record",
        Answer(0, drop_connection=True),
        Answer(201, envelope({"id": "cr_2"})),
    )
    client, slept = _client(stub)
    assert client.record_cost("m", cost_cents=2)["id"] == "cr_2"
    sent = stub.sent("POST", "/api/v1/cost/record")
    assert (
        len(sent) == 2 and sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    )
    assert len(slept) == 1


def test_unreachable_server_raises_connection_error() -> None:
    client = AOSClient("aos_k", "http://127.0.0.1:9", max_retries=1)
    client._sleep = lambda _s: None
    with pytest.raises(AOSConnectionError) as info:
        client.tenant()
    assert info.value.status is None


def test_quota_refusal_on_run_start_raises_with_reason_without_retrying(
    aos_stub: StubServer,
) -> None:
    aos_stub.script(
        "POST", "/api/v1/runs", Answer(429, problem(429, "Daily run limit (100) exceeded"))
    )
    client, slept = _client(aos_stub)
    with pytest.raises(QuotaExceededError) as info, client.run("w", "task"):
        pytest.fail("the block must not run when the run is refused")
    assert info.value.reason == "Daily run limit (100) exceeded"
    assert info.value.status == 429
    assert len(aos_stub.sent("POST", "/api/v1/runs")) == 1
    assert slept == []
    assert aos_stub.sent("POST", "/api/v1/traces") == []


def test_budget_refusal_on_run_start_raises_402_with_reason(aos_stub: StubServer) -> None:
    aos_stub.script(
        "POST", "/api/v1/runs", Answer(402, problem(402, "Budget exhausted: cb_0123456789abcdef"))
    )
    client, _ = _client(aos_stub)
    with pytest.raises(BudgetExceededError) as info, client.run("w", "task"):
        pass
    assert info.value.reason == "Budget exhausted: cb_0123456789abcdef"


def test_rate_limited_run_start_with_retry_after_is_retried(aos_stub: StubServer) -> None:
    aos_stub.script(
        "POST",
        "/api/v1/runs",
        Answer(429, problem(429, "Rate limit exceeded"), {"Retry-After": "1"}),
    )
    client, slept = _client(aos_stub)
    with client.run("w", "task") as run:
        pass
    sent = aos_stub.sent("POST", "/api/v1/runs")
    assert (
        len(sent) == 2 and sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    )
    assert sent[0].body["run_id"] == sent[1].body["run_id"] == run.id
    assert slept == [1.0]


def test_retry_after_accepts_http_dates() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30.0)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
