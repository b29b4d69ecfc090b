"""OTLP/HTTP trace payloads (protobuf and JSON) -> spans -> AOS trace steps and cost records.

Spans are grouped by trace id. A span carrying any `gen_ai.*` attribute becomes a step; the
GenAI semantic conventions are read in their current spelling and in the older one
(`gen_ai.system`, `gen_ai.usage.prompt_tokens` / `completion_tokens`). Pure functions: the
route runs them in a worker thread, off the event loop.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from aos_traces.domain import semconv
from aos_traces.domain.redaction import redact

STATUS_ERROR = 2
MAX_BODY_BYTES = 32 * 1024 * 1024


class OtlpDecodeError(ValueError):
    """The body is not a decodable OTLP export request."""


class OtlpTooLarge(OtlpDecodeError):
    """The (decompressed) body is larger than the service accepts."""


RESERVATION_ATTRIBUTE = "aos.reservation_id"
"""A span naming a cost-intel reservation: its cost record settles that reservation."""


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    # GenAI events on the span (name, attributes): message content some instrumentations
    # record as events rather than attributes. Other events are not kept.
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def is_step(self) -> bool:
        return semconv.is_step(self.attributes)


@dataclass(slots=True)
class SpanGroup:
    """The spans of one OTLP trace id in one export request."""

    otlp_trace_id: str
    spans: list[Span] = field(default_factory=list)

    @property
    def root(self) -> Span | None:
        return next((span for span in self.spans if not span.parent_span_id), None)

    @property
    def step_spans(self) -> list[Span]:
        """The spans that become steps, in step order (start time, then span id)."""
        return sorted((span for span in self.spans if span.is_step), key=step_order)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_unix_nano(nanoseconds: int) -> datetime:
    """An OTLP time as a datetime, exact to the microsecond Postgres keeps (no float rounding,
    so a span's stored timestamp sorts the same way as the span itself)."""
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)


def span_timestamp(span: Span) -> datetime:
    """The step timestamp of a span: its start."""
    return from_unix_nano(span.start_ns)


def step_order(span: Span) -> tuple[datetime, str]:
    """Steps are ordered by (stored timestamp, span id), whatever order their spans arrive in."""
    return span_timestamp(span), span.span_id


# --- decoding -------------------------------------------------------------------------------------


def decompress(body: bytes, encoding: str | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """Undo Content-Encoding, refusing to inflate past `limit` bytes (a small gzip bomb must not
    take the process's memory)."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise OtlpTooLarge(f"OTLP export exceeds {limit} bytes")
        return body
    if encoding not in ("gzip", "deflate"):
        raise OtlpDecodeError(
            f"Unsupported Content-Encoding: {encoding}; send gzip, deflate or identity"
        )
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        payload = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise OtlpDecodeError(
            f"Body is not valid {encoding} data; compress the whole body or drop the "
            "Content-Encoding header"
        ) from error
    if len(payload) > limit or inflater.unconsumed_tail:
        raise OtlpTooLarge(f"OTLP export exceeds {limit} bytes once decompressed")
    if not inflater.eof:
        raise OtlpDecodeError(
            f"Body is truncated {encoding} data (the compressed stream does not end); "
            "send the whole compressed body"
        )
    return payload


def _any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _any_value(item.value) for item in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def decode_protobuf(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise OtlpDecodeError("Body is not a valid OTLP ExportTraceServiceRequest") from error
    spans: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _any_value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=span.status.code,
                        status_message=span.status.message,
                        attributes={kv.key: _any_value(kv.value) for kv in span.attributes},
                        resource=resource,
                        events=[
                            (event.name, {kv.key: _any_value(kv.value) for kv in event.attributes})
                            for event in span.events
                            if event.name.startswith(semconv.EVENT_PREFIX)
                        ],
                    )
                )
    return spans


def _get(mapping: Mapping[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    value = mapping.get(camel)
    if value is None:
        value = mapping.get(snake, default)
    return value


def _json_any_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return None
    for camel, snake in (("stringValue", "string_value"), ("boolValue", "bool_value")):
        if camel in value or snake in value:
            return _get(value, camel, snake)
    if "intValue" in value or "int_value" in value:
        return int(_get(value, "intValue", "int_value"))
    if "doubleValue" in value or "double_value" in value:
        return float(_get(value, "doubleValue", "double_value"))
    array = _get(value, "arrayValue", "array_value")
    if isinstance(array, Mapping):
        return [_json_any_value(item) for item in array.get("values") or []]
    kvlist = _get(value, "kvlistValue", "kvlist_value")
    if isinstance(kvlist, Mapping):
        return _json_attributes(kvlist.get("values"))
    bytes_value = _get(value, "bytesValue", "bytes_value")
    return bytes_value


def _json_attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    attributes: dict[str, Any] = {}
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("key"), str):
            attributes[item["key"]] = _json_any_value(item.get("value"))
    return attributes


def _json_events(items: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(items, list):
        return []
    return [
        (item["name"], _json_attributes(item.get("attributes")))
        for item in items
        if isinstance(item, Mapping)
        and isinstance(item.get("name"), str)
        and item["name"].startswith(semconv.EVENT_PREFIX)
    ]


def _hex_id(value: Any, length: int, name: str) -> str:
    """OTLP/JSON carries trace and span ids as hex strings (not base64, unlike proto3 JSON)."""
    text = "" if value is None else str(value).lower()
    if text and (len(text) != length or any(c not in "0123456789abcdef" for c in text)):
        raise OtlpDecodeError(f"{name} must be {length} hex characters")
    return text


def decode_json(body: bytes) -> list[Span]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise OtlpDecodeError("Body is not valid JSON") from error
    if not isinstance(document, Mapping):
        raise OtlpDecodeError("Body must be an OTLP ExportTraceServiceRequest object")
    spans: list[Span] = []
    try:
        for resource_spans in _get(document, "resourceSpans", "resource_spans", []) or []:
            resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes"))
            for scope_spans in _get(resource_spans, "scopeSpans", "scope_spans", []) or []:
                for span in scope_spans.get("spans") or []:
                    status = span.get("status") or {}
                    spans.append(
                        Span(
                            trace_id=_hex_id(_get(span, "traceId", "trace_id"), 32, "traceId"),
                            span_id=_hex_id(_get(span, "spanId", "span_id"), 16, "spanId"),
                            parent_span_id=_hex_id(
                                _get(span, "parentSpanId", "parent_span_id"), 16, "parentSpanId"
                            ),
                            name=str(span.get("name") or ""),
                            start_ns=int(
                                _get(span, "startTimeUnixNano", "start_time_unix_nano", 0)
                            ),
                            end_ns=int(_get(span, "endTimeUnixNano", "end_time_unix_nano", 0)),
                            status_code=_status_code(status.get("code")),
                            status_message=str(status.get("message") or ""),
                            attributes=_json_attributes(span.get("attributes")),
                            resource=resource,
                            events=_json_events(span.get("events")),
                        )
                    )
    except (AttributeError, TypeError, ValueError) as error:
        if isinstance(error, OtlpDecodeError):
            raise
        raise OtlpDecodeError("Body is not a valid OTLP/JSON ExportTraceServiceRequest") from error
    return spans


def _status_code(value: Any) -> int:
    if value in (None, "", "STATUS_CODE_UNSET"):
        return 0
    if value == "STATUS_CODE_OK":
        return 1
    if value == "STATUS_CODE_ERROR":
        return STATUS_ERROR
    return int(value)


def group_spans(spans: Iterable[Span]) -> tuple[list[SpanGroup], int]:
    """Spans grouped by trace id, and how many had no trace or span id (they cannot be stored
    and are reported as rejected)."""
    groups: dict[str, SpanGroup] = {}
    invalid = 0
    for span in spans:
        if not span.trace_id or not span.span_id or set(span.trace_id) == {"0"}:
            invalid += 1
            continue
        groups.setdefault(span.trace_id, SpanGroup(span.trace_id)).spans.append(span)
    return list(groups.values()), invalid


# --- mapping (the attribute table itself is domain/semconv.py) -----------------------------------

CONTENT_LIMIT = 16_384
TRUNCATED = "…[truncated by AOS: {dropped} of {total} characters dropped]"


def clean_text(value: Any, limit: int) -> str:
    """Attribute text as a column can hold it: NUL replaced, cut to the column's length."""
    return str(value).replace("\x00", "\ufffd")[:limit]


def bounded_content(value: Any, limit: int = CONTENT_LIMIT) -> Any:
    """Message content as stored: JSON text parsed (so redaction sees its keys), redacted like
    step params, and cut to `limit` characters of JSON with a visible marker."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    value = redact(value)
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if len(text) <= limit:
        return value
    return text[:limit] + TRUNCATED.format(dropped=len(text) - limit, total=len(text))


def read(span: Span) -> semconv.GenAiSpan:
    return semconv.read_span(span.attributes, span.resource)


def span_to_step(
    span: Span, step_index: int, idempotency_key: str, usage: semconv.GenAiSpan | None = None
) -> dict[str, Any]:
    """A step span as a raw step (the same shape a client posts; normalised afterwards). Params
    and outcome use the GenAI names whatever convention the span was written in."""
    usage = usage or read(span)
    attributes = span.attributes
    tokens = usage.tokens
    params: dict[str, Any] = semconv.request_params(attributes)
    for key, value in (
        ("gen_ai.operation.name", usage.operation),
        ("gen_ai.provider.name", usage.provider),
        ("gen_ai.request.model", usage.request_model),
        ("gen_ai.tool.name", usage.tool_name),
    ):
        if value is not None:
            params[key] = value
    from_events = semconv.event_content(span.events)
    prompt = semconv.content(attributes, semconv.INPUT_CONTENT, semconv.INPUT_INDEXED)
    if prompt is None:
        prompt = from_events[0]
    if prompt is not None:
        params["gen_ai.input.messages"] = bounded_content(prompt)
    outcome_data: dict[str, Any] = semconv.response_fields(attributes)
    if usage.model is not None:
        outcome_data["gen_ai.response.model"] = usage.model
    if tokens.input or tokens.output:
        outcome_data.update(
            {
                "gen_ai.usage.input_tokens": tokens.input,
                "gen_ai.usage.output_tokens": tokens.output,
                "gen_ai.usage.cache_read.input_tokens": tokens.cache_read,
                "gen_ai.usage.cache_creation.input_tokens": tokens.cache_creation,
                "gen_ai.usage.reasoning.output_tokens": tokens.reasoning,
            }
        )
    completion = semconv.content(attributes, semconv.OUTPUT_CONTENT, semconv.OUTPUT_INDEXED)
    if completion is None:
        completion = from_events[1]
    if completion is not None:
        outcome_data["gen_ai.output.messages"] = bounded_content(completion)
    failed = span.status_code == STATUS_ERROR
    error_type = attributes.get("error.type")
    operation = usage.operation
    skill_name = span.name or usage.tool_name or usage.name or operation or "gen_ai"
    return {
        "step_index": step_index,
        "skill_id": clean_text(f"gen_ai.{operation}" if operation else "gen_ai", 256),
        "skill_name": clean_text(skill_name, 256),
        "params": params,
        "status": "failure" if failed else "success",
        "outcome_category": "failure" if failed else "success",
        "outcome_code": clean_text(error_type or span.status_message or "", 128) or None,
        "outcome_data": outcome_data,
        "cost_cents": usage.cost_cents or 0.0,
        "duration_ms": max(span.end_ns - span.start_ns, 0) / 1e6,
        "retry_count": 0,
        "timestamp": span_timestamp(span),
        "source": "external",
        "idempotency_key": idempotency_key,
        "replay_behavior": "execute",
    }


def cost_record(
    span: Span,
    usage: semconv.GenAiSpan,
    *,
    tenant_id: str,
    request_id: str,
    run_id: str,
    skill_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The cost-intel record for one LLM step. The conventions count cached tokens inside input
    tokens and reasoning tokens inside output tokens; cost-intel prices each type at its own
    price, so each token is sent under exactly one type. `occurred_at` is the span's end when
    cost-intel would accept it (not ahead of now, at most 400 days back); otherwise cost-intel
    stamps the delivery time."""
    tokens = usage.tokens
    ended = from_unix_nano(span.end_ns)
    age = (now or datetime.now(UTC)) - ended
    record: dict[str, Any] = {
        "tenant_id": tenant_id,
        "request_id": request_id,
        "workflow_id": run_id,
        "skill_id": skill_id,
        "model": usage.model,
        "input_tokens": tokens.uncached_input,
        "output_tokens": tokens.visible_output,
        "cache_read_input_tokens": tokens.cache_read,
        "cache_creation_input_tokens": tokens.cache_creation,
        "reasoning_output_tokens": tokens.reasoning,
    }
    if usage.user_id is not None:
        record["user_id"] = clean_text(usage.user_id, 128)
    if usage.feature is not None:
        record["feature_tag"] = clean_text(usage.feature, 128)
    if usage.cost_cents is not None:
        record["cost_cents"] = usage.cost_cents
    if timedelta(0) <= age <= timedelta(days=399):
        record["occurred_at"] = ended.isoformat()
    reservation = span.attributes.get(RESERVATION_ATTRIBUTE)
    if isinstance(reservation, str) and 0 < len(reservation) <= 32:
        record["reservation_id"] = reservation  # cost-intel settles that reservation with it
    return record
