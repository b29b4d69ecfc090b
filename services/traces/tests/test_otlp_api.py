"""POST /v1/traces over ASGI: content types, re-sent exports, appends, completed traces."""

from __future__ import annotations

import asyncpg
import httpx
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .support import Tenant

PROTOBUF = {"content-type": "application/x-protobuf"}
ROOT = "00000000000000f0"


def span(trace_hex: str, span_id: str, parent: str = ROOT, tokens: int = 10) -> Span:
    attributes: dict[str, str | int] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": tokens,
        "gen_ai.usage.output_tokens": 2,
    }
    return Span(
        trace_id=bytes.fromhex(trace_hex),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent) if parent else b"",
        name=f"chat {span_id[-2:]}",
        start_time_unix_nano=1_763_000_000_000_000_000 + int(span_id, 16),
        end_time_unix_nano=1_763_000_000_500_000_000 + int(span_id, 16),
        attributes=[
            KeyValue(
                key=k,
                value=AnyValue(string_value=v) if isinstance(v, str) else AnyValue(int_value=v),
            )
            for k, v in attributes.items()
        ],
    )


def export(*spans: Span) -> bytes:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.extend(spans)
    return request.SerializeToString()


async def post(client: httpx.AsyncClient, tenant: Tenant, body: bytes) -> httpx.Response:
    return await client.post("/v1/traces", content=body, headers={**tenant.developer, **PROTOBUF})


async def outbox_requests(database_url: str, tenant_id: str) -> list[dict]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT payload::text AS p FROM traces.outbox WHERE destination = 'cost-intel' "
            "AND payload->>'tenant_id' = $1",
            tenant_id,
        )
    finally:
        await connection.close()
    return [orjson.loads(row["p"]) for row in rows]


async def test_resent_export_stores_nothing_twice(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    trace_hex = "11" * 16
    body = export(span(trace_hex, "0000000000000001"), span(trace_hex, "0000000000000002"))
    for _ in range(2):
        response = await post(client, tenant, body)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-protobuf"
        ExportTraceServiceResponse.FromString(response.content)
    document = (await client.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    assert len(document["steps"]) == 2 and document["status"] == "running"
    records = await outbox_requests(database_url, tenant.id)
    assert sorted(r["request_id"] for r in records) == [
        f"trace_{trace_hex}:0000000000000001",
        f"trace_{trace_hex}:0000000000000002",
    ]
    assert {r["workflow_id"] for r in records} == {trace_hex}


async def test_later_exports_append_until_the_root_completes_the_trace(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_hex = "22" * 16
    await post(client, tenant, export(span(trace_hex, "0000000000000001")))
    first = (await client.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    root = span(trace_hex, ROOT, parent="")
    del root.attributes[:]
    await post(client, tenant, export(span(trace_hex, "0000000000000002"), root))
    document = (await client.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    assert [s["step_index"] for s in document["steps"]] == [0, 1]
    assert document["status"] == "completed" and document["completed_at"] is not None
    assert document["root_hash"] != first["root_hash"]
    assert document["hash_final_at"] is not None and document["amended"] is False


async def test_a_span_after_the_root_joins_the_trace_within_the_grace_period(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_hex = "23" * 16
    root = span(trace_hex, ROOT, parent="")
    del root.attributes[:]
    await post(client, tenant, export(span(trace_hex, "0000000000000001"), root))
    completed = (await client.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    late = await post(client, tenant, export(span(trace_hex, "0000000000000003")))
    answer = ExportTraceServiceResponse.FromString(late.content)
    assert late.status_code == 200 and answer.partial_success.rejected_spans == 0
    again = (await client.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    assert len(again["steps"]) == 2 and again["status"] == "completed"
    assert again["root_hash"] != completed["root_hash"]
    assert again["amended"] is False and again["final_root_hash"] is None


async def test_json_export_is_accepted_and_answers_json(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_hex = "33" * 16
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-agent"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": "0000000000000001",
                                "name": "chat",
                                "startTimeUnixNano": "1763000000000000000",
                                "endTimeUnixNano": "1763000001000000000",
                                "attributes": [
                                    {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                                    {
                                        "key": "gen_ai.request.model",
                                        "value": {"stringValue": "gpt-4o"},
                                    },
                                    {
                                        "key": "gen_ai.usage.prompt_tokens",
                                        "value": {"intValue": "5"},
                                    },
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = await client.post("/v1/traces", json=body, headers=tenant.developer)
    assert response.status_code == 200 and response.json() == {}
    document = (await client.get(f"/api/v1/traces/{trace_hex}", headers=tenant.admin)).json()
    assert document["agent_id"] == "json-agent"
    assert document["steps"][0]["params"]["gen_ai.provider.name"] == "openai"


async def test_bad_bodies_and_content_types(client: httpx.AsyncClient, tenant: Tenant) -> None:
    garbage = await post(client, tenant, b"\xff\x00garbage")
    assert garbage.status_code == 400
    assert b"Body is not a valid OTLP ExportTraceServiceRequest" in garbage.content
    text = await client.post(
        "/v1/traces", content=b"hi", headers={**tenant.developer, "content-type": "text/plain"}
    )
    assert text.status_code == 415
    broken = await client.post(
        "/v1/traces", content=b"{", headers={**tenant.developer, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    gzip_lie = await client.post(
        "/v1/traces",
        content=b"nope",
        headers={**tenant.developer, **PROTOBUF, "content-encoding": "gzip"},
    )
    assert gzip_lie.status_code == 400


async def test_viewer_cannot_export(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/traces", content=export(), headers={**tenant.viewer, **PROTOBUF}
    )
    assert response.status_code == 403


async def test_concurrent_exports_of_one_trace_lose_no_span(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    import asyncio

    trace_hex = "44" * 16
    first = export(*(span(trace_hex, f"00000000000000{i:02x}") for i in range(1, 4)))
    second = export(*(span(trace_hex, f"00000000000001{i:02x}") for i in range(1, 4)))
    answers = await asyncio.gather(post(client, tenant, first), post(client, tenant, second))
    assert [a.status_code for a in answers] == [200, 200]
    document = (await client.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    assert len(document["steps"]) == 6
    assert sorted(s["step_index"] for s in document["steps"]) == list(range(6))


async def test_nul_and_overlong_span_text_is_cleaned(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_hex = "55" * 16
    odd = span(trace_hex, "0000000000000001")
    odd.name = "chat\u0000" + "x" * 400
    response = await post(client, tenant, export(odd))
    assert response.status_code == 200
    document = (await client.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.admin)).json()
    name = document["steps"][0]["skill_name"]
    assert name.startswith("chat\ufffd") and len(name) == 256
