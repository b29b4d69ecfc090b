"""The Redis idempotency store (one Lua script) and the `idempotent` route helper."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import httpx
from redis.asyncio import Redis

from aos_common.idempotency import (
    IdempotencyOutcome,
    IdempotencyStore,
    StoredResponse,
    request_fingerprint,
)
from aos_common.testing import principal_headers


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
