"""Must show: the real OpenAI instrumentations from PyPI (official OpenTelemetry
`opentelemetry-instrumentation-openai-v2`, OpenInference, OpenLLMetry) around the real `openai`
client, pointed at a local OpenAI-compatible server, exported by the opentelemetry-sdk OTLP/HTTP
exporter to the real traces service; cost records reach the real cost-intel through the outbox.

Each lands as one trace whose steps and token counts by type equal the server's usage, whose
streamed call is priced (never $0), and whose user and feature show in cost-intel's breakdowns.
The Responses API (`client.responses.create`, plain and streamed) lands the same way under
OpenInference and OpenLLMetry, cached tokens exact.
Two exceptions, pinned here: the official instrumentation 2.4b0 does not report cached tokens
for chat completions, so its cached tokens are priced as ordinary input (the spans do not say
otherwise); and it does not trace the Responses API at all (it ships Responses extractors, but
its instrumentor wraps only chat completions and embeddings), so such a call leaves no step.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import wrapt
from openai.types.chat import ChatCompletionFunctionToolParam
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
    RESPONSES_STREAM_USAGE,
    RESPONSES_USAGE,
    STREAM_PIECES,
    STREAM_USAGE,
    TOOL_USAGE,
    Usage,
    fake_openai_server,
)

INTERNAL = {"X-AOS-Internal-Secret": "aos-development-internal-secret-change-me"}
WEATHER_TOOL: ChatCompletionFunctionToolParam = {
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


def chat_calls(client: openai.OpenAI) -> None:
    """A chat completion, a streamed completion and a tool call."""
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


def responses_calls(client: openai.OpenAI) -> None:
    """A Responses API call and a streamed one (usage arrives in `response.completed`)."""
    answer = client.responses.create(model="gpt-4o-mini", input="What is the capital of France?")
    assert answer.output_text == CHAT_TEXT
    stream = client.responses.create(model="gpt-4o-mini", input="What is the answer?", stream=True)
    deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "".join(STREAM_PIECES)


def run_agent(
    platform: Platform,  # noqa: F811
    openai_url: str,
    kind: Instrumentation,
    calls: Callable[[openai.OpenAI], None] = chat_calls,
) -> str:
    """`calls` under one root span, exported span by span with the real OTLP/HTTP exporter;
    returns the OTLP trace id."""
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
                calls(client)
            trace_id = format(root.get_span_context().trace_id, "032x")
    finally:
        instrumentor.uninstrument()
        unwrap_leftovers()
        provider.shutdown()
    return trace_id


def unwrap_leftovers() -> None:
    """Leave the openai client unwrapped after each instrumentation, as uninstrument should.

    OpenLLMetry 0.62.4's uninstrument calls `unwrap("openai.resources.responses",
    "Responses.create")` where opentelemetry's `unwrap` expects `("...responses.Responses",
    "create")`, so it unwraps nothing; instrumenting again in this process stacks wrappers, and
    the oldest one sends Responses API spans to an earlier, shut-down tracer provider."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("openai.resources"):
            continue
        for owner in vars(module).values():
            if not isinstance(owner, type):
                continue
            for attr, value in list(vars(owner).items()):
                if isinstance(value, wrapt.FunctionWrapper):
                    setattr(owner, attr, value.__wrapped__)


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


def prepare(platform: Platform, kind: Instrumentation, mp: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The instrumentation's environment, and its feature registered in cost-intel."""
    for name, value in kind.env.items():
        mp.setenv(name, value)
    # OpenTelemetry reads OTEL_SEMCONV_STABILITY_OPT_IN once per process; another instrumentation
    # instrumented earlier in this process must not decide this one's mode.
    mp.setattr(_OpenTelemetrySemanticConventionStability, "_initialized", False)
    registered = httpx.post(
        f"{platform.cost_intel}/api/v1/cost/features",
        json={"tag": kind.feature, "display_name": kind.name},
        headers=platform.headers,
    )
    assert registered.status_code == 201, registered.text


@pytest.mark.parametrize("kind", INSTRUMENTATIONS, ids=lambda kind: kind.name)
def test_instrumented_openai_calls_land_as_exact_steps_and_costs(
    platform: Platform,  # noqa: F811
    openai_url: str,
    kind: Instrumentation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepare(platform, kind, monkeypatch)
    otlp_id = run_agent(platform, openai_url, kind)

    trace = httpx.get(f"{platform.traces}/api/v1/traces/{otlp_id}", headers=platform.headers)
    assert trace.status_code == 200, trace.text
    document = trace.json()
    assert document["status"] == "completed" and document["agent_id"] == f"agent-{kind.name}"
    steps = document["steps"]
    assert [step["skill_id"] for step in steps] == ["gen_ai.chat"] * 3
    usages = [CHAT_USAGE, STREAM_USAGE, TOOL_USAGE]
    assert_step_tokens(steps, usages, kind)
    assert "capital of France" in str(steps[0]["params"]["gen_ai.input.messages"])
    assert CHAT_TEXT in str(steps[0]["outcome_data"]["gen_ai.output.messages"])
    assert "get_weather" in str(steps[2]["outcome_data"]["gen_ai.output.messages"])

    assert_exact_costs(platform, otlp_id, usages, kind)

    assert_breakdowns(platform, kind, count=3)


def assert_step_tokens(
    steps: list[dict[str, Any]], usages: list[Usage], kind: Instrumentation
) -> None:
    """Each step carries the server's token counts (cached ones where the library reports them)."""
    for step, usage in zip(steps, usages, strict=True):
        outcome = step["outcome_data"]
        assert outcome["gen_ai.usage.input_tokens"] == usage.prompt_tokens
        assert outcome["gen_ai.usage.output_tokens"] == usage.completion_tokens
        cached = usage.cached_tokens if kind.reports_cached_tokens else 0
        assert outcome["gen_ai.usage.cache_read.input_tokens"] == cached


def assert_exact_costs(
    platform: Platform,  # noqa: F811
    otlp_id: str,
    usages: list[Usage],
    kind: Instrumentation,
) -> None:
    """One cost record per call in cost-intel, tokens by type equal to the server's usage,
    priced (never $0), with the call's user and feature."""
    records = cost_records(platform, otlp_id, len(usages))
    assert len(records) == len(usages), records
    by_input = {r["input_tokens"] + r["cache_read_input_tokens"]: r for r in records}
    for usage in usages:
        record = by_input[usage.prompt_tokens]
        tokens = {key: record[key] for key in expected_tokens(usage, kind)}
        assert tokens == expected_tokens(usage, kind)
        assert record["model"] == "gpt-4o-mini-2024-07-18"
        assert float(record["cost_cents"]) > 0, record
        assert (record["user_id"], record["feature_tag"]) == (kind.user, kind.feature)


def assert_breakdowns(platform: Platform, kind: Instrumentation, count: int) -> None:  # noqa: F811
    """cost-intel's by-user and by-feature breakdowns count the instrumentation's calls."""
    users = httpx.get(f"{platform.cost_intel}/api/v1/cost/by-user", headers=platform.headers)
    features = httpx.get(f"{platform.cost_intel}/api/v1/cost/by-feature", headers=platform.headers)
    assert users.status_code == 200 and features.status_code == 200, users.text
    by_user = {row["user_id"]: row for row in users.json()["data"]}
    by_feature = {row["feature_tag"]: row for row in features.json()["data"]}
    assert (
        by_user[kind.user]["request_count"] == count
        and float(by_user[kind.user]["total_cost_cents"]) > 0
    )
    assert by_feature[kind.feature]["request_count"] == count


def responses_kind(kind: Instrumentation) -> Instrumentation:
    """The same instrumentation under its own agent, user and feature, so its breakdowns count
    only the Responses API calls."""
    return dataclasses.replace(kind, name=f"{kind.name}-responses")


@pytest.mark.parametrize(
    "kind", [k for k in INSTRUMENTATIONS if k.name != "otel-v2"], ids=lambda kind: kind.name
)
def test_instrumented_responses_api_calls_land_as_exact_steps_and_costs(
    platform: Platform,  # noqa: F811
    openai_url: str,
    kind: Instrumentation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kind = responses_kind(kind)
    prepare(platform, kind, monkeypatch)
    otlp_id = run_agent(platform, openai_url, kind, responses_calls)

    trace = httpx.get(f"{platform.traces}/api/v1/traces/{otlp_id}", headers=platform.headers)
    assert trace.status_code == 200, trace.text
    steps = trace.json()["steps"]
    assert [step["skill_id"] for step in steps] == ["gen_ai.chat"] * 2
    usages = [RESPONSES_USAGE, RESPONSES_STREAM_USAGE]
    assert_step_tokens(steps, usages, kind)
    assert "capital of France" in str(steps[0]["params"]["gen_ai.input.messages"])
    assert CHAT_TEXT in str(steps[0]["outcome_data"]["gen_ai.output.messages"])
    assert "".join(STREAM_PIECES) in str(steps[1]["outcome_data"]["gen_ai.output.messages"])

    assert_exact_costs(platform, otlp_id, usages, kind)
    assert_breakdowns(platform, kind, count=2)


def test_official_instrumentation_leaves_responses_api_calls_untraced(
    platform: Platform,  # noqa: F811
    openai_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pinned library behaviour (2.4b0): when a release wraps `Responses.create`, this fails and
    otel-v2 joins the Responses API test above."""
    kind = responses_kind(INSTRUMENTATIONS[0])
    prepare(platform, kind, monkeypatch)
    otlp_id = run_agent(platform, openai_url, kind, responses_calls)

    trace = httpx.get(f"{platform.traces}/api/v1/traces/{otlp_id}", headers=platform.headers)
    assert trace.status_code == 200, trace.text
    assert trace.json()["steps"] == []
