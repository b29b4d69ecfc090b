"""Cost derived from OTLP spans reaches cost-intel in batches (real processes started by `aos up`):
thousands of records in a few calls, and the relay's lag visible on the traces service's /metrics.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from aos_cli.testing import RunningPlatform

SPANS = 3000
BATCH_ROUTE = "/internal/v1/cost/records/batch"


@pytest.fixture(scope="module")
def gateway(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=60.0, trust_env=False) as client:
        yield client


def llm_spans(trace_hex: str, count: int) -> bytes:
    """One trace of `count` chat spans under a root span, one export."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    start = time.time_ns() - 60 * 10**9
    trace_id = bytes.fromhex(trace_hex)
    scope.spans.append(
        Span(
            trace_id=trace_id,
            span_id=(10**9).to_bytes(8, "big"),
            name="agent run",
            start_time_unix_nano=start,
            end_time_unix_nano=start + 10**9,
        )
    )
    for index in range(1, count + 1):
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
        scope.spans.append(
            Span(
                trace_id=trace_id,
                span_id=index.to_bytes(8, "big"),
                parent_span_id=(10**9).to_bytes(8, "big"),
                name=f"chat {index}",
                start_time_unix_nano=start + index,
                end_time_unix_nano=start + index + 10**6,
                attributes=[
                    KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attributes.items()
                ]
                + [
                    KeyValue(key="gen_ai.usage.input_tokens", value=AnyValue(int_value=100)),
                    KeyValue(key="gen_ai.usage.output_tokens", value=AnyValue(int_value=10)),
                ],
            )
        )
    return request.SerializeToString()


def sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus sample (None when absent)."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_cost_of_thousands_of_spans_arrives_in_a_few_batch_calls_and_the_lag_returns_to_zero(
    platform: RunningPlatform, gateway: httpx.Client
) -> None:
    operator = {"X-AOS-Key": platform.credentials["operator_key"]}
    created = gateway.post(
        "/api/v1/tenants", json={"name": f"relay-{secrets.token_hex(4)}"}, headers=operator
    )
    assert created.status_code == 201, created.text
    headers = {"X-AOS-Key": created.json()["initial_api_key"]["key"]}
    cost_url, traces_url = platform.service_urls["cost-intel"], platform.service_urls["traces"]
    batch_calls_before = (
        sample(httpx.get(f"{cost_url}/metrics").text, "aos_http_requests_total", route=BATCH_ROUTE)
        or 0.0
    )

    response = gateway.post(
        "/v1/traces",
        content=llm_spans(secrets.token_hex(16), SPANS),
        headers={**headers, "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text

    deadline = time.monotonic() + 60
    while True:
        summary = gateway.get("/api/v1/cost/summary", params={"period": "7d"}, headers=headers)
        if summary.json().get("request_count") == SPANS:
            break
        assert time.monotonic() < deadline, f"cost incomplete: {summary.text}"
        time.sleep(0.2)
    assert summary.json()["total_input_tokens"] == 100 * SPANS

    after = sample(
        httpx.get(f"{cost_url}/metrics").text, "aos_http_requests_total", route=BATCH_ROUTE
    )
    assert after is not None
    batch_calls = after - batch_calls_before
    assert 3 <= batch_calls <= 10  # ≥ SPANS / 1,000 messages per call, not one call per record
    traces_metrics = httpx.get(f"{traces_url}/metrics").text
    lag = {"service": "traces", "destination": "cost-intel"}
    assert sample(traces_metrics, "aos_outbox_pending_messages", **lag) == 0
    assert sample(traces_metrics, "aos_outbox_oldest_pending_age_seconds", **lag) == 0
    delivered = sample(traces_metrics, "aos_outbox_messages_total", outcome="delivered", **lag)
    assert delivered is not None and delivered >= SPANS
