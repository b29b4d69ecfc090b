import gzip
from collections.abc import Mapping

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from aos_traces.domain.otlp import (
    OtlpDecodeError,
    cost_record,
    decode_json,
    decode_protobuf,
    decompress,
    group_spans,
    read,
    span_to_step,
)

TRACE = "0af7651916cd43dd8448eb211c80319c"


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(int_value=int(value)))  # type: ignore[call-overload]


def protobuf_request(spans: list[PbSpan]) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(kv("service.name", "agent"))
    resource_spans.scope_spans.add().spans.extend(spans)
    return request.SerializeToString()


def pb_span(span_id: str, parent: str = "", attrs: Mapping[str, object] | None = None) -> PbSpan:
    return PbSpan(
        trace_id=bytes.fromhex(TRACE),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent),
        name=f"span {span_id[:4]}",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_250_000_000,
        attributes=[kv(k, v) for k, v in (attrs or {}).items()],
    )


def test_protobuf_spans_decode_with_attributes_and_ids() -> None:
    body = protobuf_request(
        [
            pb_span(
                "b7ad6b7169203331",
                attrs={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 10,
                },
            )
        ]
    )
    (span,) = decode_protobuf(body)
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE, "b7ad6b7169203331", "")
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    assert span.resource == {"service.name": "agent"}
    assert span.is_step


def test_error_status_becomes_a_failed_step() -> None:
    raw = pb_span("b7ad6b7169203331", attrs={"gen_ai.operation.name": "chat"})
    raw.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    (span,) = decode_protobuf(protobuf_request([raw]))
    step = span_to_step(span, 0, "k")
    assert (step["status"], step["outcome_code"]) == ("failure", "boom")


def test_json_body_uses_hex_ids_and_string_ints() -> None:
    body = orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": []},
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": TRACE,
                                    "spanId": "b7ad6b7169203331",
                                    "name": "chat m",
                                    "startTimeUnixNano": "1700000000000000000",
                                    "endTimeUnixNano": 1700000001000000000,
                                    "status": {"code": 2},
                                    "attributes": [
                                        {
                                            "key": "gen_ai.system",
                                            "value": {"stringValue": "openai"},
                                        },
                                        {
                                            "key": "gen_ai.usage.prompt_tokens",
                                            "value": {"intValue": "7"},
                                        },
                                        {
                                            "key": "gen_ai.usage.completion_tokens",
                                            "value": {"intValue": 3},
                                        },
                                    ],
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    )
    (span,) = decode_json(body)
    assert span.end_ns - span.start_ns == 1_000_000_000
    assert span.status_code == 2
    usage = read(span)
    assert (usage.provider, usage.tokens.input, usage.tokens.output) == ("openai", 7, 3)


def test_current_semconv_names_are_read() -> None:
    (span,) = decode_protobuf(
        protobuf_request(
            [
                pb_span(
                    "b7ad6b7169203331",
                    attrs={
                        "gen_ai.provider.name": "anthropic",
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "claude-x",
                        "gen_ai.response.model": "claude-x-2025",
                        "gen_ai.usage.input_tokens": 100,
                        "gen_ai.usage.output_tokens": 20,
                        "gen_ai.usage.cache_read.input_tokens": 30,
                    },
                )
            ]
        )
    )
    usage = read(span)
    assert (usage.provider, usage.model, usage.is_llm_call) == ("anthropic", "claude-x-2025", True)
    record = cost_record(span, usage, tenant_id="t", request_id="r", run_id="run", skill_id="s")
    assert (record["input_tokens"], record["cache_read_input_tokens"], record["output_tokens"]) == (
        70,
        30,
        20,
    )
    assert "cost_cents" not in record


def test_tool_spans_are_steps_but_not_llm_calls() -> None:
    (span,) = decode_protobuf(
        protobuf_request(
            [
                pb_span(
                    "b7ad6b7169203331",
                    attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
                )
            ]
        )
    )
    assert span.is_step
    assert read(span).is_llm_call is False


def test_spans_group_by_trace_id_and_find_the_root() -> None:
    spans = decode_protobuf(
        protobuf_request(
            [
                pb_span("00000000000000a1"),
                pb_span(
                    "00000000000000a2", "00000000000000a1", attrs={"gen_ai.operation.name": "chat"}
                ),
            ]
        )
    )
    (group,), invalid = group_spans(spans)
    assert invalid == 0
    assert group.root is not None and group.root.span_id == "00000000000000a1"
    assert [s.span_id for s in group.step_spans] == ["00000000000000a2"]


def test_step_carries_timing_and_request_params() -> None:
    (span,) = decode_protobuf(
        protobuf_request(
            [
                pb_span(
                    "b7ad6b7169203331",
                    attrs={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.temperature": 0.5,
                        "gen_ai.usage.output_tokens": 4,
                    },
                )
            ]
        )
    )
    step = span_to_step(span, 3, "trace_x:b7ad6b7169203331")
    assert step["duration_ms"] == 250.0
    assert step["params"]["gen_ai.request.temperature"] == 0.5
    assert step["outcome_data"] == {
        "gen_ai.usage.input_tokens": 0,
        "gen_ai.usage.output_tokens": 4,
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.cache_creation.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 0,
    }
    assert (step["skill_id"], step["step_index"], step["source"]) == ("gen_ai.chat", 3, "external")


def test_gzip_bodies_are_decompressed() -> None:
    assert decompress(gzip.compress(b"abc"), "gzip") == b"abc"


@pytest.mark.parametrize(
    ("decoder", "body"),
    [
        (decode_protobuf, b"\xff\xff\xff"),
        (decode_json, b"{not json"),
        (decode_json, b"[]"),
        (decode_json, b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}'),
    ],
)
def test_undecodable_bodies_raise_decode_error(decoder, body: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OtlpDecodeError):
        decoder(body)


def test_decompression_stops_at_the_limit() -> None:
    from aos_traces.domain.otlp import OtlpTooLarge

    bomb = gzip.compress(b"\0" * 100_000)
    with pytest.raises(OtlpTooLarge):
        decompress(bomb, "gzip", limit=1_000)
    assert len(decompress(bomb, "gzip", limit=100_000)) == 100_000


def test_genai_span_events_are_decoded_and_other_events_dropped() -> None:
    raw = pb_span("b7ad6b7169203331", attrs={"gen_ai.operation.name": "chat"})
    raw.events.add(name="gen_ai.user.message", attributes=[kv("content", "hi")])
    raw.events.add(name="exception", attributes=[kv("exception.message", "boom")])
    (span,) = decode_protobuf(protobuf_request([raw]))
    assert span.events == [("gen_ai.user.message", {"content": "hi"})]
