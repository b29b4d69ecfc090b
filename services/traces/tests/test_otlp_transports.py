"""OTLP transports: HTTP protobuf, HTTP JSON, gzip on both, and gRPC give the same stored trace;
a body that cannot be decompressed or decoded is a 400 with a sentence, an oversized one a 413,
each with the OTLP status body."""

from __future__ import annotations

import asyncio
import base64
import gzip
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import httpx
import openai
import orjson
import pytest
from fastapi import FastAPI
from google.protobuf.json_format import MessageToDict
from google.rpc.status_pb2 import Status
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetry
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aos_common.testing import app_client, migrate
from aos_traces.main import create_app
from aos_traces.state import traces_state

from .integrations.fake_openai import CHAT_TEXT, CHAT_USAGE, fake_openai_server
from .support import Tenant, make_trace, traces_settings
from .test_otlp_api import outbox_requests

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}
GZIP = {"content-encoding": "gzip"}


@pytest.fixture(scope="module")
async def service(
    database_url: str, redis_url: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    migrate("aos_traces", database_url)
    app = create_app(traces_settings(database_url, redis_url))
    async with app_client(app) as http:
        yield app, http


def agent_spans() -> Sequence[ReadableSpan]:
    """One agent run with two LLM calls and a tool call, made by the real OpenTelemetry SDK."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "support-agent", "aos.feature": "refunds"})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent support", attributes={"session.id": "s-9"}):
        for number in (1, 2):
            with tracer.start_as_current_span(
                f"chat gpt-4o-mini {number}",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.usage.input_tokens": 1000 * number,
                    "gen_ai.usage.output_tokens": 50 * number,
                    "gen_ai.usage.cache_read.input_tokens": 400 * number,
                    "user.id": "alice",
                },
            ):
                pass
        with tracer.start_as_current_span(
            "execute_tool lookup",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"},
        ):
            pass
    provider.shutdown()
    return memory.get_finished_spans()


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON: proto3 JSON with trace and span ids as hex instead of base64."""
    document = MessageToDict(request)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return orjson.dumps(document)


async def stored(
    http: httpx.AsyncClient, tenant: Tenant, trace_hex: str, database_url: str
) -> dict[str, Any]:
    document = (await http.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    for key in ("tenant_id", "root_hash", "hash_final_at"):
        document.pop(key)
    records = sorted(
        (
            {k: v for k, v in record.items() if k not in ("tenant_id", "id")}
            for record in await outbox_requests(database_url, tenant.id)
        ),
        key=lambda record: record["request_id"],
    )
    return {"trace": document, "costs": records}


async def through_each_transport(
    app: FastAPI, http: httpx.AsyncClient, spans: Sequence[ReadableSpan], database_url: str
) -> dict[str, dict[str, Any]]:
    """The same spans as gzip OTLP/HTTP protobuf, gzip OTLP/HTTP JSON and OTLP/gRPC (the real
    gRPC exporter), each into a tenant of its own; what each tenant stored."""
    trace_hex = f"{spans[0].context.trace_id:032x}"
    request = encode_spans(spans)
    tenants = {name: Tenant("tnt_" + secrets.token_hex(8)) for name in ("proto", "json", "grpc")}

    proto = await http.post(
        "/v1/traces",
        content=gzip.compress(request.SerializeToString()),
        headers={**tenants["proto"].developer, **PROTOBUF, **GZIP},
    )
    assert proto.status_code == 200
    assert not ExportTraceServiceResponse.FromString(proto.content).HasField("partial_success")
    as_json = await http.post(
        "/v1/traces",
        content=gzip.compress(otlp_json(request)),
        headers={**tenants["json"].developer, **JSON, **GZIP},
    )
    assert as_json.status_code == 200 and as_json.json() == {}
    exporter = OTLPSpanExporter(
        endpoint=f"127.0.0.1:{traces_state(app).otlp_grpc_port}",
        insecure=True,
        headers={k.lower(): v for k, v in tenants["grpc"].developer.items()},
    )
    assert await asyncio.to_thread(exporter.export, spans) == SpanExportResult.SUCCESS
    exporter.shutdown()

    return {
        name: await stored(http, tenant, trace_hex, database_url)
        for name, tenant in tenants.items()
    }


async def test_every_transport_stores_the_same_trace(
    service: tuple[FastAPI, httpx.AsyncClient], database_url: str
) -> None:
    app, http = service
    results = await through_each_transport(app, http, agent_spans(), database_url)
    reference = results["proto"]
    assert reference["trace"]["agent_id"] == "support-agent"
    assert reference["trace"]["correlation_id"] == "s-9"
    assert [s["skill_id"] for s in reference["trace"]["steps"]] == [
        "gen_ai.chat",
        "gen_ai.chat",
        "gen_ai.execute_tool",
    ]
    assert [(r["input_tokens"], r["cache_read_input_tokens"]) for r in reference["costs"]] in (
        [(600, 400), (1200, 800)],
        [(1200, 800), (600, 400)],
    )
    assert {(r["user_id"], r["feature_tag"]) for r in reference["costs"]} == {("alice", "refunds")}
    assert results["json"] == reference
    assert results["grpc"] == reference


async def test_grpc_refuses_a_call_without_a_valid_key(
    service: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = service
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{traces_state(app).otlp_grpc_port}"
    ) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(ExportTraceServiceRequest().SerializeToString())
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(
                ExportTraceServiceRequest().SerializeToString(),
                metadata=(("x-aos-key", "aos_live_not_a_real_key_0000000000000000"),),
            )
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_grpc_garbage_is_invalid_argument(
    service: tuple[FastAPI, httpx.AsyncClient], tenant: Tenant
) -> None:
    app, _ = service
    metadata = tuple((k.lower(), v) for k, v in tenant.developer.items())
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{traces_state(app).otlp_grpc_port}"
    ) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(b"\xff\x00garbage", metadata=metadata)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid OTLP" in (raised.value.details() or "")


async def test_truncated_gzip_is_a_400_on_protobuf(
    service: tuple[FastAPI, httpx.AsyncClient], tenant: Tenant
) -> None:
    """Before: a gzip stream cut short inflated to a partial body, answered 200, stored nothing."""
    _, http = service
    body = gzip.compress(encode_spans(agent_spans()).SerializeToString())[:-12]
    response = await http.post(
        "/v1/traces", content=body, headers={**tenant.developer, **PROTOBUF, **GZIP}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = Status.FromString(response.content)
    assert status.code == 3 and "truncated gzip" in status.message


async def test_garbage_gzip_is_a_400_with_a_sentence_on_json(
    service: tuple[FastAPI, httpx.AsyncClient], tenant: Tenant
) -> None:
    _, http = service
    response = await http.post(
        "/v1/traces", content=b"\x1f\x8b\x08garbage", headers={**tenant.developer, **JSON, **GZIP}
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == 3
    assert problem["detail"].startswith("Body is not valid gzip data")


async def test_an_export_too_large_once_inflated_is_a_413(
    service: tuple[FastAPI, httpx.AsyncClient], tenant: Tenant
) -> None:
    _, http = service
    bomb = gzip.compress(b"\x00" * (33 * 1024 * 1024))
    response = await http.post(
        "/v1/traces", content=bomb, headers={**tenant.developer, **PROTOBUF, **GZIP}
    )
    assert response.status_code == 413
    assert Status.FromString(response.content).code == 8


async def test_spans_without_ids_are_counted_in_partial_success(
    service: tuple[FastAPI, httpx.AsyncClient], tenant: Tenant
) -> None:
    _, http = service
    request = encode_spans(agent_spans())
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].span_id = b""
    spans[1].trace_id = b"\x00" * 16
    response = await http.post(
        "/v1/traces", content=request.SerializeToString(), headers={**tenant.developer, **PROTOBUF}
    )
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert response.status_code == 200
    assert answer.partial_success.rejected_spans == 2
    assert "needs a non-zero 16-byte trace_id" in answer.partial_success.error_message


@pytest.mark.parametrize("path", ["/api/v1/traces", "/api/v1/traces/batch"])
async def test_trace_routes_read_gzip_and_refuse_garbage_gzip(
    service: tuple[FastAPI, httpx.AsyncClient], tenant: Tenant, path: str
) -> None:
    _, http = service
    trace = make_trace()
    document = orjson.dumps([trace] if path.endswith("batch") else trace)
    headers = {**tenant.developer, **JSON, **GZIP}
    stored_answer = await http.post(path, content=gzip.compress(document), headers=headers)
    assert stored_answer.status_code == 201, stored_answer.text
    garbage = await http.post(path, content=gzip.compress(document)[:-9], headers=headers)
    assert garbage.status_code == 400
    assert "truncated gzip" in garbage.json()["detail"]


@pytest.mark.parametrize(
    "instrumentor", [OpenInference, OpenLLMetry], ids=["openinference", "openllmetry"]
)
async def test_instrumentation_spans_are_stored_alike_over_every_transport(
    service: tuple[FastAPI, httpx.AsyncClient], database_url: str, instrumentor: type
) -> None:
    """Spans of a real instrumentation (message content, arrays, many attributes) included."""
    app, http = service
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "instrumented"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumented = instrumentor()
    instrumented.instrument(tracer_provider=provider)
    try:
        with fake_openai_server() as url:
            client = openai.OpenAI(base_url=url, api_key="sk-local")
            with provider.get_tracer("agent").start_as_current_span("agent run"):
                await asyncio.to_thread(
                    client.chat.completions.create,
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "What is the capital of France?"}],
                )
    finally:
        instrumented.uninstrument()
        provider.shutdown()
    results = await through_each_transport(app, http, memory.get_finished_spans(), database_url)
    reference = results["proto"]
    (step,) = reference["trace"]["steps"]
    assert step["outcome_data"]["gen_ai.usage.input_tokens"] == CHAT_USAGE.prompt_tokens
    assert CHAT_TEXT in str(step["outcome_data"]["gen_ai.output.messages"])
    assert len(reference["costs"]) == 1
    assert results["json"] == reference
    assert results["grpc"] == reference
