"""Server-side replay checks and the evidence-based integrity report."""

from __future__ import annotations

import httpx

from aos_proofs.trace_hash import hash_data

from .support import Tenant, make_trace, replayable_trace, store


async def test_check_matching_output(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, replayable_trace())
    response = await client.post(
        f"/api/v1/traces/{stored['trace_id']}/replay/steps/2",
        json={"output": {"out": 2}},
        headers=tenant.developer,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["match"] is True
    assert body["expected_hash"] == body["actual_hash"] == hash_data({"out": 2})


async def test_check_mismatch_records_a_mismatch(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, replayable_trace())
    body = (
        await client.post(
            f"/api/v1/traces/{stored['trace_id']}/replay/steps/2",
            json={"output": {"out": 99}},
            headers=tenant.developer,
        )
    ).json()
    assert body["match"] is False and body["actual_hash"] == hash_data({"out": 99})
    listed = (
        await client.get(f"/api/v1/traces/{stored['trace_id']}/mismatches", headers=tenant.admin)
    ).json()["data"]["mismatches"]
    assert [(m["reason"], m["step_index"]) for m in listed] == [("output_mismatch", 2)]
    assert listed[0]["mismatch_id"] == body["mismatch_id"]


async def test_skip_returns_the_cached_output(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, replayable_trace())
    body = (
        await client.post(
            f"/api/v1/traces/{stored['trace_id']}/replay/steps/1",
            json={"output": "ignored"},
            headers=tenant.developer,
        )
    ).json()
    assert body["replay_behavior"] == "skip" and body["cached"] is True
    assert body["output"] == {"out": 1} and body["output_hash"] == hash_data({"out": 1})


async def test_execute_records_first_truth(client: httpx.AsyncClient, tenant: Tenant) -> None:
    trace = replayable_trace()
    trace["steps"][0]["idempotency_key"] = None
    trace["steps"][0]["idempotency_key"] = "exec-key-" + trace["run_id"]
    del trace["steps"][0]["outcome_data"]
    trace["steps"][0]["output_hash"] = "pending"
    stored = await store(client, tenant, trace)
    path = f"/api/v1/traces/{stored['trace_id']}/replay/steps/0"
    first = (await client.post(path, json={"output": {"v": 1}}, headers=tenant.admin)).json()
    assert first["replay_behavior"] == "execute" and first["executed"] is True
    assert first["output_hash"] == hash_data({"v": 1})
    key = trace["steps"][0]["idempotency_key"]
    record = (await client.get(f"/api/v1/traces/idempotency/{key}", headers=tenant.admin)).json()[
        "data"
    ]
    assert record["executed"] is True and record["step_index"] == 0


async def test_replay_unknown_step_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, replayable_trace())
    response = await client.post(
        f"/api/v1/traces/{stored['trace_id']}/replay/steps/9",
        json={"output": 1},
        headers=tenant.admin,
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"Step 9 not found in trace {stored['trace_id']}"
    negative = await client.post(
        f"/api/v1/traces/{stored['trace_id']}/replay/steps/-1",
        json={"output": 1},
        headers=tenant.admin,
    )
    assert negative.status_code == 422


async def evidence(
    client: httpx.AsyncClient, tenant: Tenant, trace_id: str, **body: object
) -> dict:
    response = await client.post(
        f"/api/v1/traces/{trace_id}/evidence", json=body, headers=tenant.developer
    )
    assert response.status_code == 201, response.text
    return response.json()


async def integrity(client: httpx.AsyncClient, tenant: Tenant, trace_id: str) -> dict:
    response = await client.get(f"/api/v1/traces/{trace_id}/integrity", headers=tenant.viewer)
    assert response.status_code == 200
    return response.json()


async def test_integrity_fails_without_environment(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace())
    report = await integrity(client, tenant, stored["trace_id"])
    assert report["state"] == "SEALED" and report["grade"] == "FAIL"
    assert report["observed"] == ["trace", "trace_steps"]
    assert report["missing"] == ["environment", "activity", "provider", "policy_decisions"]


async def test_integrity_passes_with_most_evidence(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace(status="running", completed_at=None))
    for name in ("environment", "activity", "provider"):
        recorded = await evidence(client, tenant, stored["trace_id"], evidence_class=name)
        assert recorded["kind"] == "evidence"
    report = await integrity(client, tenant, stored["trace_id"])
    assert (report["state"], report["grade"], report["score"]) == ("PENDING", "PASS", 0.8333)


async def test_transient_failure_warns_and_permanent_fails(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace())
    trace_id = stored["trace_id"]
    for name in ("environment", "activity", "provider", "policy_decisions"):
        await evidence(client, tenant, trace_id, evidence_class=name)
    transient = await evidence(
        client, tenant, trace_id, evidence_class="provider", failure_type="provider_timeout"
    )
    assert transient["kind"] == "capture_failure" and transient["transient"] is True
    assert (await integrity(client, tenant, trace_id))["grade"] == "WARN"
    await evidence(client, tenant, trace_id, evidence_class="activity", failure_type="pre_attach")
    report = await integrity(client, tenant, trace_id)
    assert report["grade"] == "FAIL"
    assert {f["failure_type"] for f in report["failures"]} == {"provider_timeout", "pre_attach"}
    await evidence(client, tenant, trace_id, evidence_class="activity")
    assert (await integrity(client, tenant, trace_id))["grade"] == "WARN"


async def test_evidence_validation(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, make_trace())
    path = f"/api/v1/traces/{stored['trace_id']}/evidence"
    bad_class = await client.post(path, json={"evidence_class": "x"}, headers=tenant.admin)
    bad_failure = await client.post(
        path, json={"evidence_class": "trace", "failure_type": "x"}, headers=tenant.admin
    )
    assert bad_class.status_code == bad_failure.status_code == 422
    missing = await client.post(
        "/api/v1/traces/trace_nope/evidence", json={"evidence_class": "trace"}, headers=tenant.admin
    )
    assert missing.status_code == 404
    assert (
        await client.get("/api/v1/traces/trace_nope/integrity", headers=tenant.admin)
    ).status_code == 404


async def test_a_capture_failure_repeated_with_its_idempotency_key_is_recorded_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace())
    path = f"/api/v1/traces/{stored['trace_id']}/evidence"
    headers = {**tenant.developer, "Idempotency-Key": f"ev-{stored['trace_id']}"}
    body = {"evidence_class": "provider", "failure_type": "provider_timeout"}
    first = await client.post(path, json=body, headers=headers)
    again = await client.post(path, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    report = await integrity(client, tenant, stored["trace_id"])
    assert [f["failure_type"] for f in report["failures"]] == ["provider_timeout"]
