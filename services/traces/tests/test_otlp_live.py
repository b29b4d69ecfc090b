"""OTLP end to end: the real opentelemetry-sdk OTLPSpanExporter (HTTP/protobuf) posts to the
traces service under uvicorn, authenticated with a real API key from the real tenants service;
the LLM steps reach the real cost-intel service through the traces outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from aos_common.testing import migrate
from aos_traces.main import create_app

from .support import UvicornThread, traces_settings

OPERATOR_KEY = "aos_op_" + "o" * 40


@dataclass
class Platform:
    traces: str
    tenants: str
    cost_intel: str
    tenant_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-AOS-Key": self.api_key}


@pytest.fixture(scope="module")
def platform(database_url: str, redis_url: str) -> Iterator[Platform]:
    from aos_cost_intel.main import create_app as create_cost_intel
    from aos_cost_intel.settings import CostIntelSettings
    from aos_tenants.main import create_app as create_tenants
    from aos_tenants.settings import TenantsSettings

    for package in ("aos_tenants", "aos_traces", "aos_cost_intel"):
        migrate(package, database_url)
    common = {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "telemetry_enabled": False,
        "operator_key": OPERATOR_KEY,
    }
    tenants = UvicornThread(create_tenants(TenantsSettings(**common, cost_guard_enabled=False)))
    tenants.start()
    cost = UvicornThread(
        create_cost_intel(
            CostIntelSettings(**common, tenants_url=tenants.url, detector_interval_seconds=0)
        )
    )
    cost.start()
    settings = traces_settings(
        database_url,
        redis_url,
        operator_key=OPERATOR_KEY,
        tenants_url=tenants.url,
        cost_intel_url=cost.url,
    )
    traces = UvicornThread(create_app(settings.model_copy(update={"outbox_interval_seconds": 0.2})))
    traces.start()
    try:
        created = httpx.post(
            f"{tenants.url}/api/v1/tenants",
            json={"name": "OTel Co"},
            headers={"X-AOS-Key": OPERATOR_KEY},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        yield Platform(
            traces.url, tenants.url, cost.url, body["id"], body["initial_api_key"]["key"]
        )
    finally:
        traces.stop()
        cost.stop()
        tenants.stop()


def export_agent_run(platform: Platform, api_key: str | None = None) -> str:
    """Emit one agent run (root span, a current-semconv chat span, an old-spelling chat span and
    a tool span) through the real exporter; returns the OTLP trace id (hex)."""
    exporter = OTLPSpanExporter(
        endpoint=f"{platform.traces}/v1/traces", headers={"X-AOS-Key": api_key or platform.api_key}
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("agent run") as root:
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.usage.input_tokens": 1200,
                    "gen_ai.usage.output_tokens": 300,
                    "gen_ai.request.temperature": 0.2,
                }
            )
        with tracer.start_as_current_span("chat gpt-4o-mini") as legacy:
            legacy.set_attributes(
                {
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.prompt_tokens": 50,
                    "gen_ai.usage.completion_tokens": 7,
                }
            )
            legacy.set_status(Status(StatusCode.ERROR, "rate limited"))
        with tracer.start_as_current_span("execute_tool search") as tool:
            tool.set_attributes(
                {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
            )
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


def test_exported_spans_become_a_trace_with_steps(platform: Platform) -> None:
    otlp_id = export_agent_run(platform)
    response = httpx.get(f"{platform.traces}/api/v1/traces/{otlp_id}", headers=platform.headers)
    assert response.status_code == 200, response.text
    trace = response.json()
    assert trace["trace_id"] == f"trace_{otlp_id}" and trace["run_id"] == otlp_id
    assert trace["tenant_id"] == platform.tenant_id
    assert trace["status"] == "failed" and trace["completed_at"] is not None
    assert trace["agent_id"] == "support-bot"
    steps = trace["steps"]
    assert [s["skill_name"] for s in steps] == [
        "chat gpt-4o",
        "chat gpt-4o-mini",
        "execute_tool search",
    ]
    assert [s["status"] for s in steps] == ["success", "failure", "success"]
    assert [s["level"] for s in steps] == ["INFO", "ERROR", "INFO"]
    assert steps[0]["params"]["gen_ai.request.model"] == "gpt-4o"
    assert steps[0]["outcome_data"]["gen_ai.usage.input_tokens"] == 1200
    assert all(s["source"] == "external" for s in steps)


def test_llm_steps_reach_cost_intel_with_their_tokens(platform: Platform) -> None:
    otlp_id = export_agent_run(platform)
    path = f"{platform.cost_intel}/internal/v1/cost/runs/{otlp_id}"
    records: list[dict] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = httpx.get(
            path,
            params={"tenant_id": platform.tenant_id},
            headers={"X-AOS-Internal-Secret": "aos-development-internal-secret-change-me"},
        )
        if answer.status_code == 200 and len(answer.json()["records"]) >= 2:
            records = answer.json()["records"]
            break
        time.sleep(0.2)
    by_model = {r["model"]: r for r in records}
    assert set(by_model) == {"gpt-4o-2024-08-06", "gpt-4o-mini"}, records
    assert (
        by_model["gpt-4o-2024-08-06"]["input_tokens"],
        by_model["gpt-4o-2024-08-06"]["output_tokens"],
    ) == (1200, 300)
    assert (by_model["gpt-4o-mini"]["input_tokens"], by_model["gpt-4o-mini"]["output_tokens"]) == (
        50,
        7,
    )
    trace_id = f"trace_{otlp_id}"
    assert {r["request_id"] for r in records} == {
        f"{trace_id}:{s}" for s in {r["request_id"].split(":")[1] for r in records}
    }
    assert all(float(r["cost_cents"]) > 0 for r in records)


def test_invalid_api_key_is_401(platform: Platform) -> None:
    response = httpx.post(
        f"{platform.traces}/v1/traces",
        content=b"",
        headers={"X-AOS-Key": "aos_not_a_real_key", "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key"


def test_missing_credentials_is_401(platform: Platform) -> None:
    response = httpx.get(f"{platform.traces}/api/v1/traces")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


def test_default_key_reads_but_cannot_write(platform: Platform) -> None:
    created = httpx.post(
        f"{platform.tenants}/api/v1/tenant/api-keys",
        json={"name": "reader"},
        headers=platform.headers,
    )
    assert created.status_code == 201, created.text
    reader = {"X-AOS-Key": created.json()["key"]}
    assert httpx.get(f"{platform.traces}/api/v1/traces", headers=reader).status_code == 200
    denied = httpx.post(f"{platform.traces}/api/v1/traces", json={"run_id": "r"}, headers=reader)
    assert denied.status_code == 403
    assert denied.json()["detail"] == "Requires permission traces:write"
