"""API key routes through HTTP: create (shown once), list, revoke, limits, permissions, audit."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aos_common.db import asyncpg_url
from aos_common.state import service_state
from aos_common.testing.tenants import NewTenant, Peers, TenantFactory, create_key


async def test_create_returns_key_once_with_prefix_and_defaults(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    created = await create_key(client, tenant, name="ci")
    key = created["key"]
    assert key.startswith("aos_") and len(key) == 4 + 43
    assert created["key_prefix"] == key[:12]
    assert created["id"].startswith("key_")
    assert created["permissions"] == ["run:*", "read:*"]
    assert created["status"] == "active"
    assert (created["total_requests"], created["last_used_at"], created["expires_at"]) == (
        0,
        None,
        None,
    )
    listed = (await client.get("/api/v1/tenant/api-keys", headers=tenant.headers)).json()
    mine = next(item for item in listed if item["id"] == created["id"])
    assert "key" not in mine and mine["key_prefix"] == key[:12]
    assert key not in str(listed)


async def test_only_the_hash_is_stored(
    client: httpx.AsyncClient, tenant: NewTenant, migrated_url: str
) -> None:
    created = await create_key(client, tenant)
    engine = create_async_engine(asyncpg_url(migrated_url))
    try:
        async with engine.connect() as connection:
            row = (
                (
                    await connection.execute(
                        text("SELECT * FROM tenants.api_keys WHERE id = :id"), {"id": created["id"]}
                    )
                )
                .mappings()
                .one()
            )
    finally:
        await engine.dispose()
    assert row["key_hash"] == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in str(dict(row))


async def test_create_with_options(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    created = await create_key(
        client,
        tenant,
        name="limited",
        permissions=["traces:write", "read:*"],
        allowed_workers=["support-triage"],
        expires_in_days=30,
        rate_limit_rpm=120,
        max_concurrent_runs=2,
    )
    assert created["permissions"] == ["traces:write", "read:*"]
    assert created["allowed_workers"] == ["support-triage"]
    assert created["rate_limit_rpm"] == 120 and created["max_concurrent_runs"] == 2
    assert created["expires_at"] is not None


async def test_create_validates_bounds(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    for body in (
        {"name": ""},
        {"name": "x" * 101},
        {"name": "k", "expires_in_days": 0},
        {"name": "k", "expires_in_days": 366},
        {"name": "k", "rate_limit_rpm": 1001},
        {"name": "k", "max_concurrent_runs": 101},
        {"name": "k", "permissions": ["not a permission"]},
    ):
        response = await client.post("/api/v1/tenant/api-keys", json=body, headers=tenant.headers)
        assert response.status_code == 422, body


async def test_key_limit_is_429(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    tenant = await make_tenant(max_api_keys=2)  # the initial admin key counts
    await create_key(client, tenant)
    response = await client.post(
        "/api/v1/tenant/api-keys", json={"name": "third"}, headers=tenant.headers
    )
    assert response.status_code == 429
    assert response.json()["detail"] == "API key limit exceeded"


async def test_key_limit_holds_under_parallel_creates(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(max_api_keys=3)
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/tenant/api-keys", json={"name": f"p{i}"}, headers=tenant.headers)
            for i in range(6)
        )
    )
    assert sorted(response.status_code for response in responses) == [201, 201] + [429] * 4


async def test_revoked_keys_free_the_limit(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(max_api_keys=2)
    extra = await create_key(client, tenant)
    await client.delete(f"/api/v1/tenant/api-keys/{extra['id']}", headers=tenant.headers)
    await create_key(client, tenant)


async def test_missing_permission_is_403_naming_it(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    reader = await create_key(client, tenant, permissions=["read:*"])
    headers = {"X-AOS-Key": reader["key"]}
    create = await client.post("/api/v1/tenant/api-keys", json={"name": "x"}, headers=headers)
    assert create.status_code == 403
    assert create.json()["detail"] == "Requires permission keys:create"
    listing = await client.get("/api/v1/tenant/api-keys", headers=headers)
    assert listing.json()["detail"] == "Requires permission keys:read"
    revoke = await client.delete(f"/api/v1/tenant/api-keys/{reader['id']}", headers=headers)
    assert revoke.json()["detail"] == "Requires permission keys:revoke"


async def test_cannot_grant_more_than_held(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    creator = await create_key(client, tenant, permissions=["keys:create", "read:*"])
    response = await client.post(
        "/api/v1/tenant/api-keys",
        json={"name": "escalate", "permissions": ["*"]},
        headers={"X-AOS-Key": creator["key"]},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission *"


async def test_revoke_then_list(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    created = await create_key(client, tenant)
    response = await client.delete(
        f"/api/v1/tenant/api-keys/{created['id']}?reason=Leaked in CI logs", headers=tenant.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == f"API key {created['id']} revoked"
    assert body["data"]["status"] == "revoked"
    default = (await client.get("/api/v1/tenant/api-keys", headers=tenant.headers)).json()
    assert created["id"] not in [item["id"] for item in default]
    everything = (
        await client.get("/api/v1/tenant/api-keys?include_revoked=true", headers=tenant.headers)
    ).json()
    assert any(i["id"] == created["id"] and i["status"] == "revoked" for i in everything)


async def test_revoked_key_is_refused_at_once_here(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    created = await create_key(client, tenant)
    await client.delete(f"/api/v1/tenant/api-keys/{created['id']}", headers=tenant.headers)
    response = await client.get("/internal/v1/auth/forward", headers={"X-AOS-Key": created["key"]})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key"


async def test_revoke_unknown_key_is_404(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.delete(
        "/api/v1/tenant/api-keys/key_0000000000000000", headers=tenant.headers
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "API key not found"


async def test_cannot_revoke_another_tenants_key(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    mine, theirs = await make_tenant("a"), await make_tenant("b")
    their_key = await create_key(client, theirs)
    response = await client.delete(
        f"/api/v1/tenant/api-keys/{their_key['id']}", headers=mine.headers
    )
    assert response.status_code == 404


async def test_idempotent_replay_never_shows_the_key_again(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "create-key-once"}
    first = await client.post("/api/v1/tenant/api-keys", json={"name": "i"}, headers=headers)
    again = await client.post("/api/v1/tenant/api-keys", json={"name": "i"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["key"] and again.json()["key"] is None
    other = await client.post("/api/v1/tenant/api-keys", json={"name": "j"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["detail"] == "Idempotency key reused with a different request"


async def test_expired_key_is_listed_as_expired_and_refused(
    client: httpx.AsyncClient, tenant: NewTenant, migrated_url: str
) -> None:
    created = await create_key(client, tenant, expires_in_days=1)
    engine = create_async_engine(asyncpg_url(migrated_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE tenants.api_keys SET expires_at = now() - interval '1 minute' "
                    "WHERE id = :id"
                ),
                {"id": created["id"]},
            )
    finally:
        await engine.dispose()
    listed = (await client.get("/api/v1/tenant/api-keys", headers=tenant.headers)).json()
    assert next(i for i in listed if i["id"] == created["id"])["status"] == "expired"
    refused = await client.get("/internal/v1/auth/forward", headers={"X-AOS-Key": created["key"]})
    assert refused.status_code == 401


async def test_create_and_revoke_write_audit_entries(
    client: httpx.AsyncClient, tenant: NewTenant, peers: Peers
) -> None:
    created = await create_key(client, tenant, name="audited")
    await client.delete(f"/api/v1/tenant/api-keys/{created['id']}", headers=tenant.headers)
    for _ in range(50):
        events = {
            entry["event_type"]
            for entry in peers.audit_entries.values()
            if entry["entity_id"] == created["id"]
        }
        if events == {"ApiKeyCreated", "ApiKeyRevoked"}:
            break
        await asyncio.sleep(0.1)
    entries = [e for e in peers.audit_entries.values() if e["entity_id"] == created["id"]]
    assert {e["event_type"] for e in entries} == {"ApiKeyCreated", "ApiKeyRevoked"}
    for entry in entries:
        assert entry["id"].startswith("al_") and entry["tenant_id"] == tenant.id
        assert entry["entity_type"] == "API_KEY" and entry["actor_type"] == "AGENT"
        assert created["key"] not in str(entry)


async def test_audit_entries_wait_in_the_outbox_while_the_ledger_is_down(
    client: httpx.AsyncClient, tenant: NewTenant, peers: Peers, tenants_app: FastAPI
) -> None:
    peers.audit_ledger_up = False
    try:
        created = await create_key(client, tenant, name="while-down")
        await service_state(tenants_app).outbox_relay.deliver_pending()
        assert not any(e["entity_id"] == created["id"] for e in peers.audit_entries.values())
        assert await service_state(tenants_app).outbox_relay.pending_count() >= 1
    finally:
        peers.audit_ledger_up = True
    engine = create_async_engine(asyncpg_url(service_state(tenants_app).settings.database_url))
    try:
        async with engine.begin() as connection:  # skip the retry backoff
            await connection.execute(
                text("UPDATE tenants.outbox SET next_attempt_at = now() WHERE delivered_at IS NULL")
            )
    finally:
        await engine.dispose()
    for _ in range(50):  # the background relay may hold the row; wait for whichever delivers
        await service_state(tenants_app).outbox_relay.deliver_pending()
        delivered = [e for e in peers.audit_entries.values() if e["entity_id"] == created["id"]]
        if delivered:
            break
        await asyncio.sleep(0.1)
    assert [e["event_type"] for e in delivered] == ["ApiKeyCreated"]
