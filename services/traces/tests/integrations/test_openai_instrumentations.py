"""Must show: the real OpenAI instrumentations from PyPI (official OpenTelemetry
`opentelemetry-instrumentation-openai-v2`, OpenInference, OpenLLMetry) around the real `openai`
client, pointed at a local OpenAI-compatible server, exported by the opentelemetry-sdk OTLP/HTTP
exporter to the real traces service; cost records reach the real cost-intel through the outbox.

Each lands as one trace whose steps and token counts by type equal the server's usage, whose
streamed call is priced (never $0), and whose user and feature show in cost-intel's breakdowns.
One exception, pinned here: the official instrumentation 2.4b0 does not report cached tokens
for chat completions, so its cached tokens are priced as ordinary input (the spans do not say
otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from openinference.instrumentation import using_attributes
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability
from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetry
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OfficialV2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ..test_otlp_live import Platform, platform  # noqa: F401 (fixture)
from .fake_openai import (
    CHAT_TEXT,
    CHAT_USAGE,
    STREAM_USAGE,
    TOOL_USAGE,
    Usage,
    fake_openai_server,
)

INTERNAL = {"X-AOS-Internal-Secret": "aos-development-internal-secret-change-me"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@dataclass(frozen=True)
class Instrumentation:
    name: str
    instrumentor: type
    reports_cached_tokens: bool
    env: dict[str, str]
    identity_on_spans: bool = False

    @property
    def user(self) -> str:
        return f"user-{self.name}"

    @property
    def feature(self) -> str:
        """A feature tag as cost-intel registers them (namespace.action)."""
        return f"support.{self.name}"


INSTRUMENTATIONS = [
    Instrumentation(
        "otel-v2",
        OfficialV2,
        reports_cached_tokens=False,
        env={
            "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
        },
    ),
    Instrumentation(
        "openinference", OpenInference, reports_cached_tokens=True, env={}, identity_on_spans=True
    ),
    Instrumentation(
        "openllmetry",
        OpenLLMetry,
        reports_cached_tokens=True,
        env={"TRACELOOP_TRACE_CONTENT": "true"},
    ),
]


@pytest.fixture(scope="module")
def openai_url() -> Iterator[str]:
    with fake_openai_server() as url:
        yield url


def run_agent(platform: Platform, openai_url: str, kind: Instrumentation) -> str:  # noqa: F811
    """A chat completion, a streamed completion and a tool call under one root span, exported
    span by span with the real OTLP/HTTP exporter; returns the OTLP trace id."""
    resource: dict[str, Any] = {"service.name": f"agent-{kind.name}", "aos.feature": kind.feature}
    if not kind.identity_on_spans:
        resource["user.id"] = kind.user
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{platform.traces}/v1/traces", headers={"X-AOS-Key": platform.api_key}
            )
        )
    )
    instrumentor = kind.instrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=openai_url, api_key="sk-local")
        with provider.get_tracer("agent").start_as_current_span("agent run") as root:
            with using_attributes(user_id=kind.user, session_id=f"session-{kind.name}"):
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "What is the capital of France?"}],
                )
                stream = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "What is the answer?"}],
                    stream=True,
                    stream_options={"include_usage": True},
                )
                assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "Weather in Paris?"}],
                    tools=[WEATHER_TOOL],
                )
            trace_id = format(root.get_span_context().trace_id, "032x")
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    return trace_id


def cost_records(platform: Platform, run_id: str, count: int) -> list[dict[str, Any]]:  # noqa: F811
    deadline = time.monotonic() + 30
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{platform.cost_intel}/internal/v1/cost/runs/{run_id}",
            params={"tenant_id": platform.tenant_id},
            headers=INTERNAL,
        )
        if answer.status_code == 200 and len(answer.json()["records"]) >= count:
            return answer.json()["records"]
        time.sleep(0.2)
    return records


def expected_tokens(usage: Usage, kind: Instrumentation) -> dict[str, int]:
    cached = usage.cached_tokens if kind.reports_cached_tokens else 0
    return {
        "input_tokens": usage.prompt_tokens - cached,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
        "output_tokens": usage.completion_tokens,
        "reasoning_output_tokens": 0,
    }


@pytest.mark.parametrize("kind", INSTRUMENTATIONS, ids=lambda kind: kind.name)
def test_instrumented_openai_calls_land_as_exact_steps_and_costs(
    platform: Platform,  # noqa: F811
    openai_url: str,
    kind: Instrumentation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in kind.env.items():
        monkeypatch.setenv(name, value)
    # OpenTelemetry reads OTEL_SEMCONV_STABILITY_OPT_IN once per process; another instrumentation
    # instrumented earlier in this process must not decide this one's mode.
    monkeypatch.setattr(_OpenTelemetrySemanticConventionStability, "_initialized", False)
    registered = httpx.post(
        f"{platform.cost_intel}/api/v1/cost/features",
        json={"tag": kind.feature, "display_name": kind.name},
        headers=platform.headers,
    )
    assert registered.status_code == 201, registered.text
    otlp_id = run_agent(platform, openai_url, kind)

    trace = httpx.get(f"{platform.traces}/api/v1/traces/{otlp_id}", headers=platform.headers)
    assert trace.status_code == 200, trace.text
    document = trace.json()
    assert document["status"] == "completed" and document["agent_id"] == f"agent-{kind.name}"
    steps = document["steps"]
    assert [step["skill_id"] for step in steps] == ["gen_ai.chat"] * 3
    usages = [CHAT_USAGE, STREAM_USAGE, TOOL_USAGE]
    for step, usage in zip(steps, usages, strict=True):
        outcome = step["outcome_data"]
        assert outcome["gen_ai.usage.input_tokens"] == usage.prompt_tokens
        assert outcome["gen_ai.usage.output_tokens"] == usage.completion_tokens
        cached = usage.cached_tokens if kind.reports_cached_tokens else 0
        assert outcome["gen_ai.usage.cache_read.input_tokens"] == cached
    assert "capital of France" in str(steps[0]["params"]["gen_ai.input.messages"])
    assert CHAT_TEXT in str(steps[0]["outcome_data"]["gen_ai.output.messages"])
    assert "get_weather" in str(steps[2]["outcome_data"]["gen_ai.output.messages"])

    records = cost_records(platform, otlp_id, 3)
    assert len(records) == 3, records
    by_input = {r["input_tokens"] + r["cache_read_input_tokens"]: r for r in records}
    for usage in usages:
        record = by_input[usage.prompt_tokens]
        tokens = {key: record[key] for key in expected_tokens(usage, kind)}
        assert tokens == expected_tokens(usage, kind)
        assert record["model"] == "gpt-4o-mini-2024-07-18"
        assert float(record["cost_cents"]) > 0, record
        assert (record["user_id"], record["feature_tag"]) == (kind.user, kind.feature)

    users = httpx.get(f"{platform.cost_intel}/api/v1/cost/by-user", headers=platform.headers)
    features = httpx.get(f"{platform.cost_intel}/api/v1/cost/by-feature", headers=platform.headers)
    assert users.status_code == 200 and features.status_code == 200, users.text
    by_user = {row["user_id"]: row for row in users.json()["data"]}
    by_feature = {row["feature_tag"]: row for row in features.json()["data"]}
    assert (
        by_user[kind.user]["request_count"] == 3
        and float(by_user[kind.user]["total_cost_cents"]) > 0
    )
    assert by_feature[kind.feature]["request_count"] == 3
