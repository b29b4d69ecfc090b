"""Appending entries: fields, hashing, the chain, concurrency, de-duplication and bad input."""

from __future__ import annotations

import asyncio
import itertools

import httpx

from aos_common.testing import principal_headers
from aos_proofs import ledger

from ..support import admin, append, entry_body, internal, new_tenant

HASHED = ledger.ENTRY_HASH_FIELDS


async def test_created_entry_has_every_field_and_its_hash_recomputes(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    entry = await append(client, tenant)
    assert set(entry) == {
        "id", "seq", "tenant_id", "event_type", "entity_type", "entity_id", "actor_type",
        "actor_id", "action_reason", "before_state", "after_state", "created_at", "prev_hash",
        "entry_hash",
    }  # fmt: skip
    assert entry["id"].startswith("al_") and len(entry["id"]) == 19
    assert entry["seq"] == 1 and entry["tenant_id"] == tenant
    assert entry["prev_hash"] == "0" * 64
    assert entry["entry_hash"] == ledger.entry_hash(entry)


async def test_appends_chain_each_entry_to_the_previous_one(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    entries = [await append(client, tenant) for _ in range(4)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    for previous, current in itertools.pairwise(entries):
        assert current["prev_hash"] == previous["entry_hash"]


async def test_fifty_concurrent_appends_get_seq_1_to_50_without_gap_or_fork(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    responses = await asyncio.gather(
        *[
            client.post(
                "/api/v1/audit/entries", json=entry_body(entity_id=f"e{i}"), headers=admin(tenant)
            )
            for i in range(50)
        ]
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    entries = sorted((r.json() for r in responses), key=lambda e: e["seq"])
    assert [e["seq"] for e in entries] == list(range(1, 51))
    prev_hashes = [e["prev_hash"] for e in entries]
    assert len(set(prev_hashes)) == 50
    assert prev_hashes[0] == "0" * 64
    for previous, current in itertools.pairwise(entries):
        assert current["prev_hash"] == previous["entry_hash"]
    verify = await client.get("/api/v1/audit/verify", headers=admin(tenant))
    assert verify.json() == {"intact": True, "checked": 50, "broken_at_seq": None, "reason": None}


async def test_concurrent_appends_of_different_tenants_each_start_at_one(
    client: httpx.AsyncClient,
) -> None:
    tenants = [new_tenant() for _ in range(5)]
    responses = await asyncio.gather(
        *[
            client.post("/api/v1/audit/entries", json=entry_body(), headers=admin(t))
            for t in tenants
            for _ in range(4)
        ]
    )
    by_tenant: dict[str, list[int]] = {}
    for response in responses:
        body = response.json()
        by_tenant.setdefault(body["tenant_id"], []).append(body["seq"])
    assert {t: sorted(s) for t, s in by_tenant.items()} == {t: [1, 2, 3, 4] for t in tenants}


async def test_internal_append_deduplicates_on_the_client_chosen_id(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    body = {**entry_body(), "id": "3b1e8f4e-0000-4000-8000-000000000001", "tenant_id": tenant}
    first = await client.post("/internal/v1/audit/entries", json=body, headers=internal(tenant))
    again = await client.post("/internal/v1/audit/entries", json=body, headers=internal(tenant))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    listed = await client.get("/api/v1/audit/entries", headers=admin(tenant))
    assert listed.json()["meta"]["total"] == 1


async def test_internal_append_keeps_an_entry_shaped_id(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    body = {**entry_body(), "id": "al_0123456789abcdef", "tenant_id": tenant}
    response = await client.post("/internal/v1/audit/entries", json=body, headers=internal())
    assert response.status_code == 201
    assert response.json()["id"] == "al_0123456789abcdef"


async def test_internal_append_maps_principal_types_onto_actor_types(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    seen = []
    for given in ("api_key", "user", "service", "agent"):
        body = {**entry_body(), "id": f"{given}-{tenant}", "tenant_id": tenant, "actor_type": given}
        response = await client.post("/internal/v1/audit/entries", json=body, headers=internal())
        assert response.status_code == 201, response.text
        seen.append(response.json()["actor_type"])
    assert seen == ["AGENT", "HUMAN", "SYSTEM", "AGENT"]


async def test_internal_append_requires_a_signed_service_context(
    client: httpx.AsyncClient,
) -> None:
    body = {**entry_body(), "id": "x1", "tenant_id": new_tenant()}
    response = await client.post("/internal/v1/audit/entries", json=body)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_outbox_batch_appends_the_valid_entries_and_refuses_the_invalid_one(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    messages = [
        {**entry_body(entity_id=f"rule_{i}"), "id": f"b{i}-{tenant}", "tenant_id": tenant}
        for i in range(3)
    ]
    messages[1]["event_type"] = "NoSuchEvent"
    response = await client.post(
        "/internal/v1/audit/entries/batch", json={"messages": messages}, headers=internal()
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["stored", "refused", "stored"]
    assert results[1]["detail"].startswith("Invalid message: event_type:")
    again = await client.post(
        "/internal/v1/audit/entries/batch", json={"messages": messages}, headers=internal()
    )
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "refused", "duplicate"]
    listed = await client.get("/api/v1/audit/entries", headers=admin(tenant))
    assert sorted(e["entity_id"] for e in listed.json()["data"]) == ["rule_0", "rule_2"]


async def test_public_append_defaults_the_actor_to_the_caller(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    body = entry_body()
    del body["actor_type"], body["actor_id"]
    headers = principal_headers(tenant, roles=["admin"], principal_id="user_42")
    response = await client.post("/api/v1/audit/entries", json=body, headers=headers)
    assert response.status_code == 201
    assert (response.json()["actor_type"], response.json()["actor_id"]) == ("HUMAN", "user_42")


async def test_idempotency_key_replays_the_first_reply(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    headers = {**admin(tenant), "Idempotency-Key": "k-" + tenant}
    body = entry_body()
    first = await client.post("/api/v1/audit/entries", json=body, headers=headers)
    again = await client.post("/api/v1/audit/entries", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = await client.post("/api/v1/audit/entries", json=entry_body(), headers=headers)
    assert other.status_code == 409
    assert other.json()["detail"] == "Idempotency key reused with a different request"


async def test_append_needs_audit_write(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    viewer = principal_headers(tenant, roles=["viewer"])
    response = await client.post("/api/v1/audit/entries", json=entry_body(), headers=viewer)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission audit:write"


async def test_append_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/audit/entries", json=entry_body())
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


async def test_append_for_another_tenant_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/audit/entries",
        params={"tenant_id": new_tenant()},
        json=entry_body(),
        headers=admin(new_tenant()),
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Cannot access other tenant's data"


async def test_unknown_event_type_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/audit/entries",
        json=entry_body(event_type="SomethingElse"),
        headers=admin(new_tenant()),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "event_type"


async def test_states_without_a_canonical_form_are_422_not_500(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    bad_states = [
        '{"x": NaN}',
        '{"x": Infinity}',
        '{"x": 9007199254740993}',
        '{"x": "nul \\u0000 inside"}',
        '{"x": "lone \\ud800 surrogate"}',
    ]
    for state in bad_states:
        raw = entry_body()
        raw["after_state"] = None
        content = httpx.Request("POST", "/", json=raw).content.decode()
        content = content.replace('"after_state":null', f'"after_state":{state}')
        response = await client.post(
            "/api/v1/audit/entries",
            content=content,
            headers={**admin(tenant), "content-type": "application/json"},
        )
        assert response.status_code == 422, (state, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_nul_in_text_fields_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/audit/entries",
        json=entry_body(entity_id="a\x00b"),
        headers=admin(new_tenant()),
    )
    assert response.status_code == 422
