"""The documented OpenTelemetry example exports OTLP/HTTP protobuf with the AOS key header."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from sdk_stub import StubServer

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
trace_service_pb2 = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "otel_exporter.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("aos_otel_example", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_exports_gen_ai_spans_as_protobuf_with_the_key_header(stub: StubServer) -> None:
    stub.default("POST", "/v1/traces", {}, 200)
    example = _example()
    provider = example.build_tracer_provider(stub.url, "aos_example_key", "support-bot")
    example.run_agent(provider, "refund policy")
    provider.shutdown()
    [request] = stub.sent("POST", "/v1/traces")
    assert request.headers["x-aos-key"] == "aos_example_key"
    assert request.headers["content-type"] == "application/x-protobuf"
    export = trace_service_pb2.ExportTraceServiceRequest.FromString(request.raw)
    spans = [s for rs in export.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 3
    attrs = {s.name: {a.key: a.value for a in s.attributes} for s in spans}
    chat = attrs["chat gpt-4o-mini"]
    assert chat["gen_ai.request.model"].string_value == "gpt-4o-mini"
    assert chat["gen_ai.usage.input_tokens"].int_value == 412
    assert chat["gen_ai.usage.output_tokens"].int_value == 96
