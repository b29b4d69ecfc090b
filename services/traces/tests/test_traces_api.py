"""Storing and reading traces through HTTP."""

from __future__ import annotations

import asyncpg
import httpx
import orjson

from aos_common.testing import principal_headers
from aos_proofs.trace_hash import compute_root_hash

from .support import Tenant, make_trace, store


async def test_store_returns_envelope_with_server_root_hash(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace = make_trace()
    response = await client.post("/api/v1/traces", json={"trace": trace}, headers=tenant.admin)
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["meta"]["request_id"].startswith("req-")
    data = body["data"]
    assert data["stored"] is True and data["replay_mode"] == "full"
    assert data["trace_id"].startswith("trace_")
    stored = (await client.get(f"/api/v1/traces/{data['trace_id']}", headers=tenant.admin)).json()
    assert data["root_hash"] == compute_root_hash(
        42, trace["frozen_timestamp"], tenant.id, stored["steps"]
    )


async def test_bare_trace_body_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/api/v1/traces", json=make_trace(), headers=tenant.admin)
    assert response.status_code == 201


async def test_trace_without_ids_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/traces", json={"trace": {"steps": []}}, headers=tenant.admin
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "trace must have run_id or trace_id"


async def test_invalid_json_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/traces",
        content=b"{nope",
        headers={**tenant.admin, "content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_existing_trace_without_overwrite_is_409(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace = make_trace()
    stored = await store(client, tenant, trace)
    again = await client.post("/api/v1/traces", json={"trace": trace}, headers=tenant.admin)
    assert again.status_code == 409
    assert again.json()["detail"] == f"Trace {stored['trace_id']} already exists"


async def test_completed_trace_cannot_be_overwritten(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace = make_trace()
    stored = await store(client, tenant, trace)
    again = await client.post(
        "/api/v1/traces", json={"trace": trace, "overwrite": True}, headers=tenant.admin
    )
    assert again.status_code == 409
    assert again.json()["detail"] == f"Trace {stored['trace_id']} is completed and immutable"


async def test_running_trace_can_be_overwritten(client: httpx.AsyncClient, tenant: Tenant) -> None:
    running = make_trace(steps=1, status="running", completed_at=None)
    await store(client, tenant, running)
    done = make_trace(run_id=running["run_id"], steps=3)
    response = await client.post(
        "/api/v1/traces", json={"trace": done, "overwrite": True}, headers=tenant.admin
    )
    assert response.status_code == 201
    document = (
        await client.get(f"/api/v1/traces/{running['run_id']}", headers=tenant.admin)
    ).json()
    assert len(document["steps"]) == 3 and document["status"] == "completed"


async def test_get_by_trace_id_then_run_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    trace = make_trace()
    stored = await store(client, tenant, trace)
    by_trace = await client.get(f"/api/v1/traces/{stored['trace_id']}", headers=tenant.viewer)
    by_run = await client.get(f"/api/v1/traces/{trace['run_id']}", headers=tenant.viewer)
    assert by_trace.status_code == by_run.status_code == 200
    document = by_run.json()
    assert document == by_trace.json()
    assert document["schema_version"] == "1.1" and document["seed"] == 42
    assert [s["level"] for s in document["steps"]] == ["INFO", "INFO"]
    assert document["steps"][0]["source"] == "engine"


async def test_unknown_trace_is_404_with_text(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/api/v1/traces/run_missing", headers=tenant.admin)
    assert response.status_code == 404
    assert response.json()["detail"] == "Trace run_missing not found"


async def test_client_hash_mismatch_is_flagged_and_recorded(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace(root_hash="0" * 64))
    assert stored["hash_verified"] is False
    document = (
        await client.get(f"/api/v1/traces/{stored['trace_id']}", headers=tenant.admin)
    ).json()
    assert document["hash_verified"] is False
    listed = (
        await client.get(f"/api/v1/traces/{stored['trace_id']}/mismatches", headers=tenant.admin)
    ).json()["data"]
    assert [m["reason"] for m in listed["mismatches"]] == ["hash_mismatch"]
    assert listed["mismatches"][0]["actual_hash"] == stored["root_hash"]


async def test_matching_client_hash_is_verified(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await store(client, tenant, make_trace(key_prefix="k"))
    second = await store(client, tenant, make_trace(key_prefix="k", root_hash=first["root_hash"]))
    assert second["hash_verified"] is True


async def test_same_content_two_run_ids_same_hash(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await store(client, tenant, make_trace("run_same_a", key_prefix="same"))
    second = await store(client, tenant, make_trace("run_same_b", key_prefix="same"))
    assert first["root_hash"] == second["root_hash"]


async def test_list_filters_and_total_honours_filters(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await store(client, tenant, make_trace(agent_id="a1"))
    await store(client, tenant, make_trace(agent_id="a1"))
    await store(client, tenant, make_trace(agent_id="a2", is_synthetic=True))
    response = await client.get(
        "/api/v1/traces", params={"agent_id": "a1", "limit": 1}, headers=tenant.viewer
    )
    body = response.json()
    assert body["total"] == 2 and body["limit"] == 1 and body["offset"] == 0
    assert body["items"] == body["traces"] and len(body["items"]) == 1
    summary = body["items"][0]
    assert set(summary) == {
        "trace_id",
        "run_id",
        "correlation_id",
        "tenant_id",
        "agent_id",
        "total_steps",
        "success_count",
        "failure_count",
        "total_cost_cents",
        "total_duration_ms",
        "started_at",
        "completed_at",
        "status",
        "seed",
        "root_hash",
        "is_synthetic",
        "incident_id",
    }
    assert summary["total_steps"] == 2 and summary["total_cost_cents"] == 3.0
    synthetic = (
        await client.get("/api/v1/traces", params={"is_synthetic": "true"}, headers=tenant.viewer)
    ).json()
    assert synthetic["total"] == 1


async def test_list_filters_by_level_and_dates(client: httpx.AsyncClient, tenant: Tenant) -> None:
    failing = make_trace()
    failing["steps"][1]["status"] = "retry"
    await store(client, tenant, failing)
    await store(client, tenant, make_trace(started_at="2020-01-01T00:00:00Z"))
    warn = (
        await client.get("/api/v1/traces", params={"level": "WARN"}, headers=tenant.admin)
    ).json()
    assert warn["total"] == 1 and warn["items"][0]["run_id"] == failing["run_id"]
    recent = (
        await client.get(
            "/api/v1/traces", params={"from_date": "2025-01-01T00:00:00Z"}, headers=tenant.admin
        )
    ).json()
    assert recent["total"] == 1


async def test_bad_as_of_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        "/api/v1/traces", params={"as_of": "yesterday"}, headers=tenant.admin
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "as_of must be ISO-8601 UTC"


async def test_as_of_hides_later_traces(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await store(client, tenant, make_trace())
    before = await client.get(
        "/api/v1/traces", params={"as_of": "2000-01-01T00:00:00Z"}, headers=tenant.admin
    )
    assert before.json()["total"] == 0


async def test_limit_out_of_range_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/api/v1/traces", params={"limit": 1001}, headers=tenant.admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.limit"


async def test_summary_counts_by_status_and_level(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await store(client, tenant, make_trace())
    failed = make_trace(status="failed", is_synthetic=True)
    failed["steps"][0]["status"] = "failure"
    await store(client, tenant, failed)
    summary = (await client.get("/api/v1/traces/summary", headers=tenant.viewer)).json()
    assert summary == {
        "total": 2,
        "synthetic_count": 1,
        "by_status": {"completed": 1, "failed": 1},
        "by_level": {"INFO": 1, "ERROR": 1},
    }


async def test_by_hash_and_by_incident(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, make_trace(incident_id="inc_1", seed=9))
    by_hash = await client.get(
        f"/api/v1/traces/by-hash/{stored['root_hash']}", headers=tenant.admin
    )
    assert by_hash.status_code == 200 and by_hash.json()["trace_id"] == stored["trace_id"]
    missing = await client.get("/api/v1/traces/by-hash/abc", headers=tenant.admin)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No trace found with root_hash abc"
    incident = (await client.get("/api/v1/traces/by-incident/inc_1", headers=tenant.admin)).json()
    assert incident["total"] == 1 and incident["traces"][0]["incident_id"] == "inc_1"


async def test_compare_identical_and_different(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first, second = make_trace(key_prefix="c"), make_trace(key_prefix="c")
    third = make_trace(key_prefix="c", seed=7)
    third["steps"][0]["skill_name"] = "Other"
    for trace in (first, second, third):
        await store(client, tenant, trace)
    same = (
        await client.get(
            f"/api/v1/traces/compare/{first['run_id']}/{second['run_id']}", headers=tenant.admin
        )
    ).json()
    assert same["match"] is True
    assert same["summary"] == "Traces are deterministically identical"
    differ = (
        await client.get(
            f"/api/v1/traces/compare/{first['run_id']}/{third['run_id']}", headers=tenant.admin
        )
    ).json()
    assert differ["match"] is False
    assert differ["summary"] == "Traces differ in 3 field(s): root_hash, seed, step[0].skill_name"
    missing = await client.get(
        f"/api/v1/traces/compare/{first['run_id']}/run_nope", headers=tenant.admin
    )
    assert missing.status_code == 404 and missing.json()["detail"] == "Trace run_nope not found"


async def test_idempotency_lookup(client: httpx.AsyncClient, tenant: Tenant) -> None:
    trace = make_trace()
    stored = await store(client, tenant, trace)
    key = trace["steps"][1]["idempotency_key"]
    found = (await client.get(f"/api/v1/traces/idempotency/{key}", headers=tenant.admin)).json()
    assert found["data"]["executed"] is True
    assert found["data"]["trace_id"] == stored["trace_id"] and found["data"]["step_index"] == 1
    assert found["data"]["status"] == "success" and len(found["data"]["output_hash"]) == 16
    unknown = (await client.get("/api/v1/traces/idempotency/nope", headers=tenant.admin)).json()
    assert unknown["data"] == {"executed": False}


async def test_delete_requires_admin_and_removes_trace(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    stored = await store(client, tenant, make_trace())
    path = f"/api/v1/traces/{stored['trace_id']}"
    denied = await client.delete(path, headers=tenant.developer)
    assert denied.status_code == 403
    assert denied.json()["detail"] == "Requires admin or operator role"
    assert (await client.delete(path, headers=tenant.admin)).status_code == 204
    assert (await client.get(path, headers=tenant.admin)).status_code == 404
    assert (await client.delete(path, headers=tenant.admin)).status_code == 404
    connection = await asyncpg.connect(database_url)
    try:
        audit = await connection.fetchval(
            "SELECT payload FROM traces.outbox WHERE payload->>'tenant_id' = $1 "
            "AND payload->>'event_type' = 'TraceDeleted'",
            tenant.id,
        )
        steps = await connection.fetchval(
            "SELECT count(*) FROM traces.trace_steps WHERE tenant_id = $1", tenant.id
        )
    finally:
        await connection.close()
    assert audit is not None and steps == 0


async def test_a_trace_deleted_with_an_api_key_is_audited_as_an_agent(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    stored = await store(client, tenant, make_trace())
    key_headers = principal_headers(
        tenant.id, roles=["admin"], principal_id="key_0123456789abcdef", principal_type="api_key"
    )
    response = await client.delete(f"/api/v1/traces/{stored['trace_id']}", headers=key_headers)
    assert response.status_code == 204
    connection = await asyncpg.connect(database_url)
    try:
        audit = await connection.fetchval(
            "SELECT payload FROM traces.outbox WHERE payload->>'tenant_id' = $1 "
            "AND payload->>'event_type' = 'TraceDeleted'",
            tenant.id,
        )
    finally:
        await connection.close()
    entry = orjson.loads(audit)
    assert (entry["actor_type"], entry["actor_id"]) == ("AGENT", "key_0123456789abcdef")


async def test_cleanup_archives_then_deletes(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    old = await store(client, tenant, make_trace(started_at="2020-01-01T00:00:00Z"))
    await store(client, tenant, make_trace(started_at="2099-01-01T00:00:00Z"))
    response = await client.post(
        "/api/v1/traces/cleanup", params={"days": 30}, headers=tenant.admin
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"deleted_count": 1, "retention_days": 30}
    connection = await asyncpg.connect(database_url)
    try:
        archived = await connection.fetchval(
            "SELECT count(*) FROM traces.traces_archive WHERE tenant_id = $1 AND trace_id = $2",
            tenant.id,
            old["trace_id"],
        )
        archived_steps = await connection.fetchval(
            "SELECT count(*) FROM traces.trace_steps_archive WHERE tenant_id = $1", tenant.id
        )
    finally:
        await connection.close()
    assert (archived, archived_steps) == (1, 2)
    remaining = (await client.get("/api/v1/traces", headers=tenant.admin)).json()
    assert remaining["total"] == 1


async def test_cleanup_accepts_body_and_validates_range(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ok = await client.post(
        "/api/v1/traces/cleanup", json={"older_than_days": 7}, headers=tenant.admin
    )
    assert ok.json()["data"]["retention_days"] == 7
    assert (
        await client.post("/api/v1/traces/cleanup", params={"days": 0}, headers=tenant.admin)
    ).status_code == 422
    assert (
        await client.post(
            "/api/v1/traces/cleanup", json={"older_than_days": 400}, headers=tenant.admin
        )
    ).status_code == 422
    denied = await client.post("/api/v1/traces/cleanup", headers=tenant.developer)
    assert denied.status_code == 403


async def test_out_of_range_numbers_are_422_not_500(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for params in ({"seed": 2**64}, {"offset": 10**12}):
        response = await client.get("/api/v1/traces", params=params, headers=tenant.admin)
        assert response.status_code == 422, params
