"""Holds not settled by their expiry are released by the sweep and audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from aos_common.testing import app_client
from aos_cost_intel.main import create_app
from aos_cost_intel.reservations.sweeper import sweep_expired
from aos_cost_intel.settings import CostIntelSettings

URL = "/api/v1/cost/reservations"


@pytest.fixture(scope="module")
async def app_and_client(
    settings: CostIntelSettings,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings.model_copy(update={"reservation_sweep_seconds": 0}))
    async with app_client(app) as http:
        yield app, http


async def expire_one(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], headers: dict[str, str]
) -> dict:
    app, client = app_and_client
    await client.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "daily_limit_cents": "10", "hard_limit_enabled": True},
        headers=headers,
    )
    held = (
        await client.post(
            URL, json={"estimated_cost_cents": "10", "ttl_seconds": 1}, headers=headers
        )
    ).json()
    await asyncio.sleep(1.05)
    assert held["id"] in await sweep_expired(app)
    return held


async def test_an_expired_hold_is_released_and_its_budget_freed(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], admin: dict[str, str]
) -> None:
    _, client = app_and_client
    held = await expire_one(app_and_client, admin)
    read = (await client.get(f"{URL}/{held['id']}", headers=admin)).json()
    assert read["status"] == "expired" and read["charged_cents"] is None
    assert read["budgets"][0]["remaining_cents"] == "10"
    again = await client.post(URL, json={"estimated_cost_cents": "10"}, headers=admin)
    assert again.status_code == 201


async def test_an_expiry_is_queued_as_an_audit_entry(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
    admin: dict[str, str],
    migrated_database: str,
) -> None:
    held = await expire_one(app_and_client, admin)
    connection = await asyncpg.connect(migrated_database)
    try:
        rows = await connection.fetch(
            "SELECT payload FROM cost_intel.outbox WHERE payload->>'entity_id' = $1",
            held["id"],
        )
    finally:
        await connection.close()
    assert len(rows) == 1
    payload = rows[0]["payload"]
    assert '"event_type": "ReservationExpired"' in payload
    assert '"entity_type": "RESERVATION"' in payload
    assert "not settled by its expiry" in payload


async def test_settling_an_expired_reservation_is_409_saying_it_expired(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], admin: dict[str, str]
) -> None:
    _, client = app_and_client
    held = await expire_one(app_and_client, admin)
    response = await client.post(
        f"{URL}/{held['id']}/settle", json={"actual_cost_cents": "1"}, headers=admin
    )
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Reservation {held['id']} expired at {held['expires_at'].replace('Z', '+00:00')} "
        "and its hold was released; it can no longer be settled"
    )
