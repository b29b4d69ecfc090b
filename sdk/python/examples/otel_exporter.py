"""Send agent traces to AOS with nothing but OpenTelemetry (no aos_sdk needed).

The traces service accepts OTLP/HTTP at `POST /v1/traces` (protobuf or JSON). Spans of one trace
id become one AOS trace; every span carrying `gen_ai.*` attributes (OpenTelemetry GenAI semantic
conventions) becomes a step, and each LLM step also becomes a cost record in cost-intel, priced
from the model price table unless the span carries a cost. The tenant comes from the API key,
sent as the `X-AOS-Key` header on every export.

Requirements: `pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`.

Run it against a local platform (`aos up` prints the URLs and writes the key to
.aos/credentials.json):

    AOS_TRACES_URL=http://localhost:8002 AOS_API_KEY=aos_... python otel_exporter.py

then look for the trace with `GET /api/v1/traces?agent_id=support-bot`.
"""

from __future__ import annotations

import os
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode


def build_tracer_provider(traces_url: str, api_key: str, service_name: str) -> TracerProvider:
    """A provider exporting OTLP/HTTP protobuf to the AOS traces service."""
    exporter = OTLPSpanExporter(
        endpoint=f"{traces_url.rstrip('/')}/v1/traces",
        headers={"X-AOS-Key": api_key},
        timeout=10,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def run_agent(provider: TracerProvider, question: str, run_id: str | None = None) -> str:
    """A toy agent: one parent span for the run, one gen_ai span per model call.

    The trace's agent is the resource's `service.name` (or a `gen_ai.agent.name` attribute);
    `aos.run_id` on any span names the AOS run (otherwise the OTLP trace id is the run id).
    """
    tracer = provider.get_tracer("support-bot")
    with tracer.start_as_current_span("support-bot.run") as run_span:
        if run_id:
            run_span.set_attribute("aos.run_id", run_id)
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.response.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.usage.input_tokens", 412)
            span.set_attribute("gen_ai.usage.output_tokens", 96)
            span.set_attribute("aos.feature_tag", "customer_support.chat")
            span.set_attribute("enduser.id", "user-42")
            time.sleep(0.01)  # the model call would happen here
            answer = f"Here is what I found about {question!r}."
        with tracer.start_as_current_span("chat gpt-4o-mini (check)") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.usage.input_tokens", 120)
            span.set_attribute("gen_ai.usage.output_tokens", 8)
            span.set_status(Status(StatusCode.OK))
    return answer


def main() -> None:
    traces_url = os.environ.get("AOS_TRACES_URL", "http://localhost:8002")
    api_key = os.environ["AOS_API_KEY"]
    provider = build_tracer_provider(traces_url, api_key, "support-bot")
    trace.set_tracer_provider(provider)
    print(run_agent(provider, "refund policy"))
    provider.shutdown()  # flushes the batch processor: the spans are sent now


if __name__ == "__main__":
    main()
