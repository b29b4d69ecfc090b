"""The Redis idempotency store (one Lua script) and the `idempotent` route helper."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import httpx
from redis.asyncio import Redis

from aos_common.db import create_engine, create_sessionmaker
from aos_common.idempotency import (
    IdempotencyOutcome,
    IdempotencyStore,
    StoredResponse,
    claim_key,
    request_fingerprint,
)
from aos_common.settings import ServiceSettings
from aos_common.testing import principal_headers
from aos_tenants.models import idempotency_keys


async def test_hundred_concurrent_begins_yield_exactly_one_new(redis: Redis) -> None:
    store = IdempotencyStore(redis)
    tenant, key = f"tnt_{secrets.token_hex(8)}", secrets.token_hex(8)
    fingerprint = request_fingerprint("POST", "/x", b'{"a":1}')
    decisions = await asyncio.gather(*(store.begin(tenant, key, fingerprint) for _ in range(100)))
    counts = Counter(decision.outcome for decision in decisions)
    assert counts[IdempotencyOutcome.NEW] == 1
    assert counts[IdempotencyOutcome.IN_PROGRESS] == 99


async def test_completed_key_replays_stored_response(redis: Redis) -> None:
    store = IdempotencyStore(redis)
    tenant, key = f"tnt_{secrets.token_hex(8)}", secrets.token_hex(8)
    fingerprint = request_fingerprint("POST", "/x", b"{}")
    assert (await store.begin(tenant, key, fingerprint)).outcome is IdempotencyOutcome.NEW
    await store.complete(
        tenant, key, fingerprint, StoredResponse(201, b'{"id":1}', "application/json")
    )
    decisions = await asyncio.gather(*(store.begin(tenant, key, fingerprint) for _ in range(100)))
    assert {d.outcome for d in decisions} == {IdempotencyOutcome.DUPLICATE}
    assert decisions[0].stored == StoredResponse(201, b'{"id":1}', "application/json")


async def test_different_body_is_conflict(redis: Redis) -> None:
    store = IdempotencyStore(redis)
    tenant, key = f"tnt_{secrets.token_hex(8)}", secrets.token_hex(8)
    await store.begin(tenant, key, request_fingerprint("POST", "/x", b'{"a":1}'))
    other = await store.begin(tenant, key, request_fingerprint("POST", "/x", b'{"a":2}'))
    assert other.outcome is IdempotencyOutcome.CONFLICT


async def test_key_order_does_not_change_fingerprint() -> None:
    assert request_fingerprint("POST", "/x", b'{"a":1,"b":2}') == request_fingerprint(
        "POST", "/x", b'{"b": 2, "a": 1}'
    )


async def test_keys_are_tenant_scoped(redis: Redis) -> None:
    store = IdempotencyStore(redis)
    key = secrets.token_hex(8)
    fingerprint = request_fingerprint("POST", "/x", b"{}")
    first = await store.begin(f"tnt_{secrets.token_hex(8)}", key, fingerprint)
    second = await store.begin(f"tnt_{secrets.token_hex(8)}", key, fingerprint)
    assert first.outcome is second.outcome is IdempotencyOutcome.NEW


async def test_route_replays_with_header_and_same_body(client: httpx.AsyncClient) -> None:
    headers = {**principal_headers(f"tnt_{secrets.token_hex(8)}"), "Idempotency-Key": "k1"}
    first = await client.post("/widgets", json={"name": "w", "size": 1}, headers=headers)
    second = await client.post("/widgets", json={"size": 1, "name": "w"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()


async def test_route_reused_key_with_other_body_is_409(client: httpx.AsyncClient) -> None:
    headers = {**principal_headers(f"tnt_{secrets.token_hex(8)}"), "Idempotency-Key": "k2"}
    await client.post("/widgets", json={"name": "w", "size": 1}, headers=headers)
    response = await client.post("/widgets", json={"name": "w", "size": 2}, headers=headers)
    assert response.status_code == 409
    assert response.json()["detail"] == "Idempotency key reused with a different request"


async def test_route_concurrent_same_key_creates_once(client: httpx.AsyncClient) -> None:
    headers = {**principal_headers(f"tnt_{secrets.token_hex(8)}"), "Idempotency-Key": "k3"}
    responses = await asyncio.gather(
        *(
            client.post("/widgets", json={"name": "w", "size": 1}, headers=headers)
            for _ in range(10)
        )
    )
    created = [r for r in responses if r.status_code == 201]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(created) + len(in_progress) == 10
    assert len({r.json()["id"] for r in created}) == 1
    for response in in_progress:
        assert response.json()["detail"] == "A request with this idempotency key is in progress"


async def test_a_key_left_in_progress_by_a_dead_request_is_not_blocked(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    tenant = f"tnt_{secrets.token_hex(8)}"
    body = b'{"name":"w","size":1}'
    # What a request killed after its Redis claim leaves behind: "in progress" for 60 s.
    fingerprint = request_fingerprint("POST", "/widgets", body)
    assert (await IdempotencyStore(redis).begin(tenant, "dead", fingerprint)).outcome is (
        IdempotencyOutcome.NEW
    )
    headers = {**principal_headers(tenant), "Idempotency-Key": "dead"}
    response = await client.post(
        "/widgets", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201
    replay = await client.post("/widgets", json={"name": "w", "size": 1}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == response.json()


async def test_a_key_held_by_a_request_in_flight_is_409_in_progress(
    client: httpx.AsyncClient, settings: ServiceSettings
) -> None:
    tenant = f"tnt_{secrets.token_hex(8)}"
    fingerprint = request_fingerprint("POST", "/widgets", b'{"name":"w","size":1}')
    engine = create_engine(settings.database_url, application_name="idempotency-test")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            # The first request's transaction: key claimed, not yet committed.
            assert await claim_key(session, idempotency_keys, tenant, "held", fingerprint) is None
            headers = {**principal_headers(tenant), "Idempotency-Key": "held"}
            response = await client.post("/widgets", json={"name": "w", "size": 1}, headers=headers)
            assert response.status_code == 409
            assert response.json()["detail"] == "A request with this idempotency key is in progress"
            await session.rollback()
    finally:
        await engine.dispose()
