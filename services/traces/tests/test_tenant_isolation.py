"""Tenant B never sees or touches tenant A's traces, mismatches, evidence or idempotency records,
on any route."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from aos_common.testing import principal_headers

from .support import Tenant, make_trace, store


@pytest.fixture
async def seeded(client: httpx.AsyncClient, tenant: Tenant) -> dict:
    trace = make_trace(incident_id="inc_shared")
    stored = await store(client, tenant, trace)
    mismatch = (
        await client.post(
            f"/api/v1/traces/{stored['trace_id']}/mismatch",
            json={"step_index": 0, "reason": "r"},
            headers=tenant.admin,
        )
    ).json()
    await client.post(
        f"/api/v1/traces/{stored['trace_id']}/evidence",
        json={"evidence_class": "environment"},
        headers=tenant.admin,
    )
    return {"trace": trace, "stored": stored, "mismatch_id": mismatch["mismatch_id"]}


async def test_reads_of_another_tenant_find_nothing(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, seeded: dict
) -> None:
    b = other_tenant.admin
    trace_id, run_id = seeded["stored"]["trace_id"], seeded["trace"]["run_id"]
    key = seeded["trace"]["steps"][0]["idempotency_key"]
    assert (await client.get("/api/v1/traces", headers=b)).json()["total"] == 0
    assert (await client.get("/api/v1/traces/summary", headers=b)).json()["total"] == 0
    for path in (
        f"/api/v1/traces/{trace_id}",
        f"/api/v1/traces/{run_id}",
        f"/api/v1/traces/by-hash/{seeded['stored']['root_hash']}",
        f"/api/v1/traces/compare/{run_id}/{run_id}",
        f"/api/v1/traces/{trace_id}/mismatches",
        f"/api/v1/traces/{trace_id}/integrity",
    ):
        assert (await client.get(path, headers=b)).status_code == 404, path
    incident = (await client.get("/api/v1/traces/by-incident/inc_shared", headers=b)).json()
    assert incident["total"] == 0
    idempotency = (await client.get(f"/api/v1/traces/idempotency/{key}", headers=b)).json()
    assert idempotency["data"] == {"executed": False}
    mismatches = (await client.get("/api/v1/traces/mismatches", headers=b)).json()["data"]
    assert mismatches["total"] == 0 and mismatches["summary"] == {"open": 0, "resolved": 0}


async def test_writes_to_another_tenants_trace_are_404(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, seeded: dict
) -> None:
    b = other_tenant.admin
    trace_id = seeded["stored"]["trace_id"]
    attempts = [
        client.delete(f"/api/v1/traces/{trace_id}", headers=b),
        client.post(
            f"/api/v1/traces/{trace_id}/mismatch", json={"step_index": 0, "reason": "x"}, headers=b
        ),
        client.post(
            f"/api/v1/traces/{trace_id}/mismatches/{seeded['mismatch_id']}/resolve", headers=b
        ),
        client.post(
            "/api/v1/traces/mismatches/bulk-report",
            params={"mismatch_ids": seeded["mismatch_id"]},
            headers=b,
        ),
        client.post(f"/api/v1/traces/{trace_id}/replay/steps/0", json={"output": 1}, headers=b),
        client.post(
            f"/api/v1/traces/{trace_id}/evidence", json={"evidence_class": "trace"}, headers=b
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, response.request.url
    cleanup = await client.post("/api/v1/traces/cleanup", params={"days": 1}, headers=b)
    assert cleanup.json()["data"]["deleted_count"] == 0
    mine = (await client.get(f"/api/v1/traces/{trace_id}", headers=tenant.admin)).json()
    assert mine["trace_id"] == trace_id
    mismatches = (
        await client.get(f"/api/v1/traces/{trace_id}/mismatches", headers=tenant.admin)
    ).json()["data"]["mismatches"]
    assert mismatches[0]["resolved"] is False


async def test_same_run_id_in_two_tenants_are_two_traces(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, seeded: dict
) -> None:
    theirs = await store(client, other_tenant, seeded["trace"])
    assert theirs["trace_id"] == seeded["stored"]["trace_id"]
    assert theirs["root_hash"] != seeded["stored"]["root_hash"]
    document = (
        await client.get(f"/api/v1/traces/{theirs['trace_id']}", headers=other_tenant.admin)
    ).json()
    assert document["tenant_id"] == other_tenant.id


async def test_naming_another_tenant_is_403_unless_operator(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, seeded: dict
) -> None:
    denied = await client.get(
        "/api/v1/traces", params={"tenant_id": tenant.id}, headers=other_tenant.admin
    )
    assert denied.status_code == 403
    assert denied.json()["detail"] == "Cannot access other tenant's data"
    operator = principal_headers(None, roles=["operator"], principal_type="operator")
    allowed = await client.get("/api/v1/traces", params={"tenant_id": tenant.id}, headers=operator)
    assert allowed.status_code == 200 and allowed.json()["total"] == 1


async def test_otlp_spans_with_a_known_trace_id_stay_in_their_tenant(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    def body(span_id: str) -> bytes:
        request = ExportTraceServiceRequest()
        span = Span(
            trace_id=bytes.fromhex("ab" * 16),
            span_id=bytes.fromhex(span_id),
            parent_span_id=bytes.fromhex("00" * 7 + "01"),
            name="chat",
            start_time_unix_nano=1,
            end_time_unix_nano=2,
            attributes=[KeyValue(key="gen_ai.operation.name", value=AnyValue(string_value="chat"))],
        )
        request.resource_spans.add().scope_spans.add().spans.append(span)
        return request.SerializeToString()

    headers = {"content-type": "application/x-protobuf"}
    for who, span_id in ((tenant, "00000000000000a1"), (other_tenant, "00000000000000b1")):
        response = await client.post(
            "/v1/traces", content=body(span_id), headers={**who.developer, **headers}
        )
        assert response.status_code == 200
    for who in (tenant, other_tenant):
        document = (await client.get(f"/api/v1/traces/trace_{'ab' * 16}", headers=who.admin)).json()
        assert document["tenant_id"] == who.id and len(document["steps"]) == 1
