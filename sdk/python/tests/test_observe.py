"""`aos_sdk.configure()` + `@aos_sdk.observe()` exporting to the REAL traces service (its own
process on a free port, real Postgres and Redis; API keys resolved by the real tenants service,
also a process of its own).

The spans are also kept by OpenTelemetry's own in-memory exporter on the same provider, to check
their parent/child links, which the stored trace does not show.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sdk_live import ServiceProcess, free_port

import aos_sdk
from aos_sdk import observe

pytest.importorskip("aos_tenants.main")
pytest.importorskip("aos_traces.main")


@dataclass
class Live:
    tenants: ServiceProcess
    traces: ServiceProcess
    operator_key: str
    common: dict[str, Any]

    def new_key(self) -> str:
        created = httpx.post(
            f"{self.tenants.url}/api/v1/tenants",
            json={"name": f"observe-{secrets.token_hex(4)}"},
            headers={"X-AOS-Key": self.operator_key},
        )
        assert created.status_code == 201, created.text
        return str(created.json()["initial_api_key"]["key"])

    def traces_on(self, port: int) -> ServiceProcess:
        return ServiceProcess("aos_traces.main:create_app", port, {**self.common, "port": port})


@pytest.fixture(scope="module")
def live(database_url: str, redis_url: str) -> Iterator[Live]:
    from aos_common.testing import migrate

    migrate("aos_tenants", database_url)
    migrate("aos_traces", database_url)
    ports = {"tenants": free_port(), "traces": free_port()}
    dead = f"http://127.0.0.1:{free_port()}"
    operator_key = "aos_op_" + secrets.token_hex(16)
    common: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "operator_key": operator_key,
        "tenants_url": f"http://127.0.0.1:{ports['tenants']}",
        "traces_url": f"http://127.0.0.1:{ports['traces']}",
        "cost_intel_url": dead,
        "audit_ledger_url": dead,
        "guard_logs_url": dead,
        "telemetry_enabled": False,
        "outbox_interval_seconds": 3600,
        "database_pool_size": 3,
    }
    tenants = ServiceProcess(
        "aos_tenants.main:create_app", ports["tenants"], {**common, "port": ports["tenants"]}
    )
    tenants.start()
    live = Live(tenants, tenants, operator_key, common)
    live.traces = live.traces_on(ports["traces"])
    live.traces.start()
    try:
        yield live
    finally:
        current = aos_sdk.telemetry.current()
        if current is not None:
            current.shutdown()
        live.traces.stop()
        tenants.stop()


@pytest.fixture(scope="module")
def memory() -> InMemorySpanExporter:
    """OpenTelemetry's in-memory exporter on the global provider (created here if needed)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(memory: InMemorySpanExporter) -> InMemorySpanExporter:
    memory.clear()
    return memory


def by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in finished}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def stored_trace(live: Live, key: str, span: ReadableSpan, steps: int) -> dict[str, Any]:
    trace_id = f"trace_{span.context.trace_id:032x}"
    deadline = time.monotonic() + 20
    while True:
        response = httpx.get(
            f"{live.traces.url}/api/v1/traces/{trace_id}", headers={"X-AOS-Key": key}
        )
        if response.status_code == 200 and len(response.json()["steps"]) == steps:
            return dict(response.json())
        assert time.monotonic() < deadline, f"trace not stored: {response.text}"
        time.sleep(0.1)


def configured(live: Live, key: str, **options: Any) -> aos_sdk.AOSTelemetry:
    telemetry = aos_sdk.configure(api_key=key, endpoint=live.traces.url, **options)
    assert telemetry.enabled
    return telemetry


@observe(kind="tool")
def search(query: str) -> list[str]:
    return [f"{query}-1", f"{query}-2"]


@observe()
def plan(question: str) -> str:
    hits = search(question)
    with observe("chat gpt-4o-mini", kind="llm") as llm:
        llm.record_usage("gpt-4o-mini", input_tokens=120, output_tokens=30, provider="openai")
    return f"{len(hits)} hits"


@observe(kind="run", name="support-agent")
def agent(question: str) -> str:
    return plan(question)


def test_decorated_functions_nest_into_one_trace_stored_with_a_step_each(
    live: Live, spans: InMemorySpanExporter
) -> None:
    key = live.new_key()
    telemetry = configured(live, key)
    assert agent("refunds") == "2 hits"
    assert telemetry.flush()

    named = by_name(spans.get_finished_spans())
    run, step = named["invoke_agent support-agent"], named["plan"]
    tool, llm = named["execute_tool search"], named["chat gpt-4o-mini"]
    assert parent_of(run) is None
    assert parent_of(step) == run.context.span_id
    assert parent_of(tool) == parent_of(llm) == step.context.span_id
    assert tool.attributes["gen_ai.tool.name"] == "search"
    assert tool.attributes["gen_ai.tool.call.arguments"] == '{"query": "refunds"}'
    assert tool.attributes["gen_ai.tool.call.result"] == '["refunds-1", "refunds-2"]'

    stored = stored_trace(live, key, run, steps=4)
    assert stored["agent_id"] == "support-agent" and stored["status"] == "completed"
    assert sorted(s["skill_id"] for s in stored["steps"]) == [
        "gen_ai.chain",
        "gen_ai.chat",
        "gen_ai.execute_tool",
        "gen_ai.invoke_agent",
    ]
    chat = next(s for s in stored["steps"] if s["skill_id"] == "gen_ai.chat")
    assert chat["params"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat["outcome_data"]["gen_ai.usage.input_tokens"] == 120


@observe(kind="tool")
async def fetch(source: str) -> str:
    await asyncio.sleep(0.01)
    return source.upper()


@observe(kind="run", name="async-agent")
async def async_agent() -> list[str]:
    return list(await asyncio.gather(fetch("a"), fetch("b")))


async def test_async_functions_gathered_concurrently_are_children_of_their_run(
    live: Live, spans: InMemorySpanExporter
) -> None:
    key = live.new_key()
    telemetry = configured(live, key)
    assert await async_agent() == ["A", "B"]
    assert await asyncio.to_thread(telemetry.flush)

    finished = spans.get_finished_spans()
    run = by_name(finished)["invoke_agent async-agent"]
    tools = [s for s in finished if s.name == "execute_tool fetch"]
    assert len(tools) == 2 and {parent_of(t) for t in tools} == {run.context.span_id}
    stored = await asyncio.to_thread(stored_trace, live, key, run, 3)
    assert stored["status"] == "completed"


@observe()
def numbers(count: int) -> Iterator[int]:
    values = list(range(count))
    while values:
        yield values.pop(0)


@observe(kind="tool")
def double(value: int) -> int:
    return value * 2


@observe(kind="run", name="generator-agent")
def generator_agent() -> list[int]:
    return [double(value) for value in numbers(3)]


def test_a_generator_span_covers_its_iteration_and_the_consumer_stays_outside_it(
    live: Live, spans: InMemorySpanExporter
) -> None:
    key = live.new_key()
    telemetry = configured(live, key)
    assert generator_agent() == [0, 2, 4]
    assert telemetry.flush()

    finished = spans.get_finished_spans()
    named = by_name(finished)
    run, gen = named["invoke_agent generator-agent"], named["numbers"]
    doubles = [s for s in finished if s.name == "execute_tool double"]
    assert parent_of(gen) == run.context.span_id
    assert len(doubles) == 3 and {parent_of(d) for d in doubles} == {run.context.span_id}
    assert gen.attributes["aos.output.items"] == 3
    assert gen.end_time >= max(d.end_time for d in doubles[:2])
    stored_trace(live, key, run, steps=5)


@observe()
async def ticks(count: int) -> Any:
    for value in range(count):
        await asyncio.sleep(0)
        yield value


@observe(kind="run", name="async-generator-agent")
async def async_generator_agent() -> list[int]:
    seen = []
    async with aclosing(ticks(10)) as values:
        async for value in values:
            seen.append(await fetch(str(value)))
            if value == 1:
                break  # leaves the generator early: closing it ends its span
    return [int(v) for v in seen]


async def test_an_async_generator_closed_early_ends_its_span_and_the_trace_is_stored(
    live: Live, spans: InMemorySpanExporter
) -> None:
    key = live.new_key()
    telemetry = configured(live, key)
    assert await async_generator_agent() == [0, 1]
    assert await asyncio.to_thread(telemetry.flush)

    finished = spans.get_finished_spans()
    named = by_name(finished)
    run, gen = named["invoke_agent async-generator-agent"], named["ticks"]
    fetches = [s for s in finished if s.name == "execute_tool fetch"]
    assert parent_of(gen) == run.context.span_id
    assert {parent_of(f) for f in fetches} == {run.context.span_id}
    assert gen.status.is_ok
    await asyncio.to_thread(stored_trace, live, key, run, 4)


class Refused(Exception):
    pass


@observe(kind="tool")
def flaky() -> None:
    raise Refused("upstream said no")


def test_the_applications_exception_propagates_unchanged_and_fails_the_step(
    live: Live, spans: InMemorySpanExporter
) -> None:
    key = live.new_key()
    telemetry = configured(live, key)
    with pytest.raises(Refused, match="upstream said no"):
        with observe("failing-agent", kind="run"):
            flaky()
    assert telemetry.flush()
    run = by_name(spans.get_finished_spans())["invoke_agent failing-agent"]
    stored = stored_trace(live, key, run, steps=2)
    tool = next(s for s in stored["steps"] if s["skill_id"] == "gen_ai.execute_tool")
    assert tool["status"] == "failure" and stored["status"] == "failed"


def test_user_session_and_feature_reach_spans_started_by_other_code_inside_a_run(
    live: Live, spans: InMemorySpanExporter
) -> None:
    configured(live, live.new_key())
    other = trace.get_tracer("some.instrumentation")
    with observe("billing-agent", kind="run", user_id="user-7", feature="refunds", session_id="s1"):
        with other.start_as_current_span("chat gpt-4o"):
            pass
    inner = by_name(spans.get_finished_spans())["chat gpt-4o"]
    assert inner.attributes["user.id"] == "user-7"
    assert inner.attributes["aos.feature"] == "refunds"
    assert inner.attributes["gen_ai.conversation.id"] == "s1"


def test_without_an_api_key_nothing_is_exported_and_the_application_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AOS_API_KEY", raising=False)
    telemetry = aos_sdk.configure()
    assert telemetry.enabled is False and telemetry.flush() is True
    assert agent("anything") == "2 hits"


def test_with_the_platform_down_the_application_runs_memory_stays_bounded_and_spans_arrive_later(
    live: Live, spans: InMemorySpanExporter
) -> None:
    key = live.new_key()
    port = free_port()  # nothing listens here yet: the platform is down
    telemetry = aos_sdk.configure(
        api_key=key,
        endpoint=f"http://127.0.0.1:{port}",
        max_queue_size=40,
        max_export_batch_size=10,
        schedule_delay=0.05,
        max_backoff=0.5,
        export_timeout=1.0,
    )
    for index in range(30):  # 30 runs of 2 spans: 60 spans for a queue of 40
        with observe(f"offline-{index}", kind="run"):
            search(str(index))
    assert telemetry.pending_spans <= 40
    assert telemetry.dropped_spans == 20
    assert not telemetry.flush()  # still down: the spans stay queued
    assert telemetry.pending_spans == 40

    traces = live.traces_on(port)
    traces.start()
    try:
        deadline = time.monotonic() + 30
        while telemetry.pending_spans:
            assert time.monotonic() < deadline, "queued spans were not exported"
            time.sleep(0.05)
        assert telemetry.exported_spans == 40
        runs = [s for s in spans.get_finished_spans() if s.name.startswith("invoke_agent offline-")]
        for run in runs[:20]:  # the first 20 runs' 40 spans fitted in the queue
            stored_trace(live, key, run, steps=2)
    finally:
        traces.stop()


class FakeOpenAI(BaseHTTPRequestHandler):
    """A local OpenAI-compatible server: every chat completion answers with fixed usage."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1763000000,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Paris."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_instrument_turns_on_one_openai_instrumentation_whose_spans_nest_in_the_run(
    spans: InMemorySpanExporter,
) -> None:
    openai = pytest.importorskip("openai")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    aos_sdk.configure(api_key="aos_test", endpoint=f"http://127.0.0.1:{free_port()}")
    turned_on = aos_sdk.instrument()
    try:
        openai_ones = [name for name in turned_on if ".openai" in name]
        assert openai_ones == ["opentelemetry.instrumentation.openai_v2.OpenAIInstrumentor"]
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", api_key="sk-test"
        )
        with observe("capital-agent", kind="run", user_id="user-3"):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}]
            )
    finally:
        for name in turned_on:
            module, cls = name.rsplit(".", 1)
            getattr(importlib.import_module(module), cls)().uninstrument()
        server.shutdown()
    finished = spans.get_finished_spans()
    run = by_name(finished)["invoke_agent capital-agent"]
    chats = [s for s in finished if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 1  # one instrumentation: the call is recorded (and billed) once
    assert parent_of(chats[0]) == run.context.span_id
    assert chats[0].attributes["gen_ai.usage.input_tokens"] == 1200
    assert chats[0].attributes["user.id"] == "user-3"
