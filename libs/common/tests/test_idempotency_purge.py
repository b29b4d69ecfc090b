"""The purge of idempotency keys past their 24 h lifetime, on real Postgres: expired rows go in
bounded batches, fresh ones stay, and a replay within the window still gets the stored answer."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_common.db import create_engine, create_sessionmaker
from aos_common.idempotency import redis_key
from aos_common.idempotency_purge import purge_expired_keys
from aos_common.settings import ServiceSettings
from aos_common.state import service_state
from aos_common.testing import principal_headers
from aos_tenants.models import idempotency_keys

WIDGET = {"name": "w", "size": 1}


@pytest.fixture(scope="module")
async def sessionmaker(
    settings: ServiceSettings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database_url, application_name="idempotency-purge-test")
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _insert_key(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: str, key: str, age_hours: float
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(idempotency_keys).values(
                tenant_id=tenant,
                key=key,
                fingerprint="0" * 64,
                status=201,
                media_type="application/json",
                body=b"{}",
                created_at=func.now() - timedelta(hours=age_hours),
            )
        )


async def _keys_of(sessionmaker: async_sessionmaker[AsyncSession], tenant: str) -> set[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(idempotency_keys.c.key).where(idempotency_keys.c.tenant_id == tenant)
        )
        return set(rows)


async def test_a_key_past_its_lifetime_is_deleted(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tenant = f"tnt_{secrets.token_hex(8)}"
    await _insert_key(sessionmaker, tenant, "old", age_hours=25)
    assert await purge_expired_keys(sessionmaker, idempotency_keys) >= 1
    assert await _keys_of(sessionmaker, tenant) == set()


async def test_a_key_within_its_lifetime_is_kept(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tenant = f"tnt_{secrets.token_hex(8)}"
    await _insert_key(sessionmaker, tenant, "recent", age_hours=23)
    await _insert_key(sessionmaker, tenant, "old", age_hours=25)
    await purge_expired_keys(sessionmaker, idempotency_keys)
    assert await _keys_of(sessionmaker, tenant) == {"recent"}


async def test_a_backlog_larger_than_a_batch_is_deleted_batch_by_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tenant = f"tnt_{secrets.token_hex(8)}"
    for number in range(7):
        await _insert_key(sessionmaker, tenant, f"old-{number}", age_hours=30)
    purged = await purge_expired_keys(sessionmaker, idempotency_keys, batch_rows=2)
    assert purged >= 7
    assert await _keys_of(sessionmaker, tenant) == set()


async def test_one_call_deletes_at_most_its_batches(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tenant = f"tnt_{secrets.token_hex(8)}"
    await purge_expired_keys(sessionmaker, idempotency_keys)  # other tests' expired rows go
    for number in range(5):
        await _insert_key(sessionmaker, tenant, f"old-{number}", age_hours=30)
    assert (
        await purge_expired_keys(sessionmaker, idempotency_keys, batch_rows=2, max_batches=2) == 4
    )
    assert len(await _keys_of(sessionmaker, tenant)) == 1


async def test_a_replay_within_the_window_after_a_purge_returns_the_stored_answer(
    client: httpx.AsyncClient, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tenant = f"tnt_{secrets.token_hex(8)}"
    headers = {**principal_headers(tenant), "Idempotency-Key": "kept"}
    first = await client.post("/widgets", json=WIDGET, headers=headers)
    assert first.status_code == 201
    await purge_expired_keys(sessionmaker, idempotency_keys)
    await redis.delete(redis_key(tenant, "kept"))  # so that Postgres answers the replay
    replay = await client.post("/widgets", json=WIDGET, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()


async def test_every_app_with_an_idempotency_table_purges_in_the_background(
    test_app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert service_state(test_app).idempotency_purge.running
