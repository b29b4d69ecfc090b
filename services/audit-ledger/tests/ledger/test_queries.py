"""Reading the ledger: filters, pagination, entity history, signals and runs, tenant scope."""

from __future__ import annotations

import httpx

from aos_common.testing import principal_headers
from aos_proofs import ledger, merkle

from ..support import admin, append, internal, new_tenant


async def test_list_is_a_paginated_envelope_newest_first(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    for _ in range(5):
        await append(client, tenant)
    response = await client.get(
        "/api/v1/audit/entries", params={"limit": 2, "offset": 1}, headers=admin(tenant)
    )
    body = response.json()
    assert body["success"] is True
    assert [e["seq"] for e in body["data"]] == [4, 3]
    meta = body["meta"]
    assert (meta["total"], meta["page"], meta["page_size"], meta["has_more"]) == (5, 1, 2, True)
    assert meta["request_id"] == response.headers["X-Request-ID"]


async def test_list_filters_combine(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await append(client, tenant, event_type="LimitCreated", entity_type="LIMIT", entity_id="lim1")
    await append(client, tenant, event_type="LimitBreached", entity_type="LIMIT", entity_id="lim1",
                 actor_type="SYSTEM")  # fmt: skip
    await append(client, tenant, event_type="LimitCreated", entity_type="LIMIT", entity_id="lim2")

    async def seqs(**params: str) -> list[int]:
        response = await client.get("/api/v1/audit/entries", params=params, headers=admin(tenant))
        assert response.status_code == 200, response.text
        return [e["seq"] for e in response.json()["data"]]

    assert await seqs(event_type="LimitCreated") == [3, 1]
    assert await seqs(entity_type="LIMIT", entity_id="lim1") == [2, 1]
    assert await seqs(actor_type="SYSTEM") == [2]
    assert await seqs(event_type="LimitCreated", entity_id="lim2") == [3]


async def test_list_filters_by_time_window(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    first = await append(client, tenant)
    second = await append(client, tenant)

    async def seqs(**params: str) -> list[int]:
        response = await client.get("/api/v1/audit/entries", params=params, headers=admin(tenant))
        return [e["seq"] for e in response.json()["data"]]

    assert await seqs(**{"from": second["created_at"]}) == [2]
    assert await seqs(to=first["created_at"]) == [1]
    bad = await client.get(
        "/api/v1/audit/entries",
        params={"from": second["created_at"], "to": first["created_at"]},
        headers=admin(tenant),
    )
    assert bad.status_code == 400 and bad.json()["detail"] == "from must not be greater than to"
    assert (
        await client.get(
            "/api/v1/audit/entries", params={"from": "yesterday"}, headers=admin(tenant)
        )
    ).status_code == 422


async def test_list_limit_bounds(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    for limit in (0, 501):
        response = await client.get(
            "/api/v1/audit/entries", params={"limit": limit}, headers=admin(tenant)
        )
        assert response.status_code == 422


async def test_entity_history_is_oldest_first(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await append(client, tenant, entity_id="rule_x")
    await append(client, tenant, entity_id="other")
    await append(client, tenant, event_type="PolicyRuleRetired", entity_id="rule_x")
    response = await client.get("/api/v1/audit/entities/POLICY_RULE/rule_x", headers=admin(tenant))
    body = response.json()
    assert (body["entity_type"], body["entity_id"], body["total"]) == ("POLICY_RULE", "rule_x", 2)
    assert [e["event_type"] for e in body["entries"]] == ["PolicyRuleCreated", "PolicyRuleRetired"]
    unknown = await client.get("/api/v1/audit/entities/PLANET/x", headers=admin(tenant))
    assert unknown.status_code == 422


async def test_policy_activation_fields_round_trip_in_after_state(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    activation = {
        "policy_id": "pol_7",
        "source_pattern_id": "pat_3",
        "source_recovery_id": "rec_9",
        "confidence": 0.875,
    }
    created = await append(client, tenant, entity_id="pol_7", after_state=activation)
    history = (
        await client.get("/api/v1/audit/entities/POLICY_RULE/pol_7", headers=admin(tenant))
    ).json()
    assert history["entries"][0]["after_state"] == activation
    assert ledger.entry_hash(history["entries"][0]) == created["entry_hash"]


async def test_signal_feedback_and_run_signals(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await append(client, tenant, event_type="SignalAcknowledged", entity_type="SIGNAL",
                 entity_id="sig_1", after_state={"run_id": "run_a", "status": "ack"})  # fmt: skip
    await append(client, tenant, event_type="SignalEscalated", entity_type="SIGNAL",
                 entity_id="sig_1", after_state={"run_id": "run_a"})  # fmt: skip
    await append(client, tenant, event_type="SignalSuppressed", entity_type="SIGNAL",
                 entity_id="sig_2", before_state={"run_id": "run_b"})  # fmt: skip
    feedback = (
        await client.get("/api/v1/audit/signals/sig_1/feedback", headers=admin(tenant))
    ).json()
    assert feedback["signal_id"] == "sig_1" and feedback["total"] == 2
    assert [e["event_type"] for e in feedback["feedback"]] == [
        "SignalAcknowledged",
        "SignalEscalated",
    ]
    run_a = (await client.get("/api/v1/audit/runs/run_a/signals", headers=admin(tenant))).json()
    assert run_a["run_id"] == "run_a" and run_a["total"] == 2
    run_b = (await client.get("/api/v1/audit/runs/run_b/signals", headers=admin(tenant))).json()
    assert [e["entity_id"] for e in run_b["signals"]] == ["sig_2"]


async def test_a_tenant_never_sees_another_tenants_entries(client: httpx.AsyncClient) -> None:
    mine, theirs = new_tenant(), new_tenant()
    await append(client, theirs, entity_id="secret")
    listed = (await client.get("/api/v1/audit/entries", headers=admin(mine))).json()
    assert listed["data"] == [] and listed["meta"]["total"] == 0
    history = await client.get("/api/v1/audit/entities/POLICY_RULE/secret", headers=admin(mine))
    assert history.json()["total"] == 0
    for path in (
        "/api/v1/audit/entries",
        "/api/v1/audit/verify",
        "/api/v1/audit/tree-head",
        "/api/v1/audit/proof/inclusion?seq=1",
        "/api/v1/audit/entities/POLICY_RULE/secret",
    ):
        sep = "&" if "?" in path else "?"
        response = await client.get(f"{path}{sep}tenant_id={theirs}", headers=admin(mine))
        assert response.status_code == 403, path
        assert response.json()["detail"] == "Cannot access other tenant's data"
    proof = await client.get("/api/v1/audit/proof/inclusion?seq=1", headers=admin(mine))
    assert proof.status_code == 404


async def test_an_operator_reads_any_tenant_by_naming_it(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await append(client, tenant)
    operator = principal_headers(None, roles=["operator"], principal_type="operator")
    response = await client.get(
        "/api/v1/audit/entries", params={"tenant_id": tenant}, headers=operator
    )
    assert response.json()["meta"]["total"] == 1
    unnamed = await client.get("/api/v1/audit/entries", headers=operator)
    assert unnamed.status_code == 400


async def test_reads_need_read_audit(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    no_reads = principal_headers(tenant, roles=[], permissions=["audit:write"])
    response = await client.get("/api/v1/audit/entries", headers=no_reads)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission read:audit"
    viewer = principal_headers(tenant, roles=["viewer"])
    assert (await client.get("/api/v1/audit/tree-head", headers=viewer)).status_code == 200


async def test_nul_in_a_query_is_400_not_500(client: httpx.AsyncClient) -> None:
    """Refused on every service port before routing (aos_common.input_limits)."""
    tenant = new_tenant()
    response = await client.get(
        "/api/v1/audit/entries", params={"entity_id": "a\x00b"}, headers=admin(tenant)
    )
    assert response.status_code == 400
    path = await client.get("/api/v1/audit/signals/a%00b/feedback", headers=admin(tenant))
    assert path.status_code == 400


async def test_internal_entries_come_with_proofs_against_one_signed_head(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    await append(client, tenant, entity_id="run_1")
    await append(client, tenant, entity_id="other")
    await append(client, tenant, entity_id="run_1", event_type="PolicyRuleModified")
    response = await client.get(
        "/internal/v1/audit/entries",
        params={"tenant_id": tenant, "entity_id": "run_1", "limit": 10},
        headers=internal(tenant),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    head = body["tree_head"]
    assert head["tenant_id"] == tenant and head["tree_size"] == 3
    assert ledger.verify_tree_head_signature(head, tenant, head["public_key"])
    assert [e["seq"] for e in body["entries"]] == [3, 1]
    for entry in body["entries"]:
        proof = entry["proof"]
        leaf = merkle.leaf_hash(ledger.entry_hash(entry))
        assert proof["leaf_hash"] == leaf and proof["tree_size"] == 3
        assert merkle.verify_inclusion(
            leaf, proof["leaf_index"], 3, proof["audit_path"], head["root_hash"]
        )


async def test_internal_entries_need_a_context_and_a_tenant(client: httpx.AsyncClient) -> None:
    assert (await client.get("/internal/v1/audit/entries?tenant_id=t")).status_code == 401
    missing = await client.get("/internal/v1/audit/entries", headers=internal())
    assert missing.status_code == 422


async def test_internal_entries_filter_by_run_and_stay_in_their_tenant(
    client: httpx.AsyncClient,
) -> None:
    tenant, other = new_tenant(), new_tenant()
    await append(client, tenant, event_type="SignalEscalated", entity_type="SIGNAL",
                 entity_id="sig_9", after_state={"run_id": "run_shared"})  # fmt: skip
    await append(client, other, event_type="SignalEscalated", entity_type="SIGNAL",
                 entity_id="sig_9", after_state={"run_id": "run_shared"})  # fmt: skip
    await append(client, tenant, entity_id="unrelated")
    response = await client.get(
        "/internal/v1/audit/entries",
        params={"tenant_id": tenant, "run_id": "run_shared"},
        headers=internal(),
    )
    body = response.json()
    assert [(e["tenant_id"], e["entity_id"]) for e in body["entries"]] == [(tenant, "sig_9")]
    assert body["tree_head"]["tree_size"] == 2


async def test_internal_entries_of_an_empty_ledger(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    response = await client.get(
        "/internal/v1/audit/entries", params={"tenant_id": tenant}, headers=internal()
    )
    body = response.json()
    assert body["entries"] == []
    assert body["tree_head"]["tree_size"] == 0
    assert body["tree_head"]["root_hash"] == merkle.EMPTY_ROOT_HEX
