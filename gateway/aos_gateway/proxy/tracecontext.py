"""W3C trace context at the edge: continue a caller's trace (new span id for the gateway hop) or
start one, so one trace id follows the request through the gateway, forward-auth and the service."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import propagate, trace

from aos_gateway.proxy.types import Headers

_tracer = trace.get_tracer("aos.gateway")

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def continue_trace(headers: Headers) -> str:
    """Rewrite `traceparent` for the next hop and return the trace id."""
    match = _TRACEPARENT.match((headers.get("traceparent") or "").strip().lower())
    if (
        match is not None
        and match.group(1) != "ff"
        and match.group(2) != _ZERO_TRACE
        and match.group(3) != _ZERO_SPAN
    ):
        trace_id, flags = match.group(2), match.group(4)
    else:
        trace_id, flags = secrets.token_hex(16), "01"
        headers.remove("tracestate")
    headers.set("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-{flags}")
    return trace_id


@contextmanager
def start_gateway_span(headers: Headers, router: str, method: str) -> Iterator[None]:
    """An OpenTelemetry span for the gateway hop, child of the caller's context, propagated on.

    Without an SDK tracer provider the span is not recording and has no id of its own; the hop is
    then described by `continue_trace` instead, so the trace id still flows.
    """
    parent = propagate.extract(
        {
            "traceparent": headers.get("traceparent") or "",
            "tracestate": headers.get("tracestate") or "",
        }
    )
    with _tracer.start_as_current_span(
        f"{method} {router}", context=parent, kind=trace.SpanKind.SERVER
    ) as span:
        if not span.get_span_context().is_valid or not span.is_recording():
            continue_trace(headers)
        else:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            headers.set("traceparent", carrier["traceparent"])
            if carrier.get("tracestate"):
                headers.set("tracestate", carrier["tracestate"])
        yield
