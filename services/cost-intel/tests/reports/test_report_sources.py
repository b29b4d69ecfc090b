"""The three report sources (per-dimension rollups, wide rollups, raw records) give the same sums
for a window that spans whole days and a ragged first day."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from aos_common.testing import principal_headers
from aos_cost_intel.reports import repository
from aos_cost_intel.settings import CostIntelSettings


async def test_wide_rollups_and_raw_records_sum_like_the_dimension_rollups(
    client: httpx.AsyncClient, settings: CostIntelSettings
) -> None:
    tenant = "tnt_" + secrets.token_hex(8)
    now = datetime.now(UTC)
    batch = [
        {
            "model": model,
            "cost_cents": f"{hours * 3 + 1}.25",
            "user_id": user,
            "input_tokens": hours,
            "occurred_at": (now - timedelta(hours=hours)).isoformat(),
        }
        for hours, model, user in ((1, "gpt-4o", "u1"), (30, "other", None), (70, "gpt-4o", "u2"))
    ]
    headers = principal_headers(tenant, roles=["admin"])
    response = await client.post(
        "/api/v1/cost/records/batch", json={"records": batch}, headers=headers
    )
    assert response.status_code == 201, response.text
    start = (now - timedelta(hours=80)).replace(minute=30)
    conn = await asyncpg.connect(settings.database_url)
    try:
        dims = repository.DIMENSIONS
        expected = await repository.aggregate_rollups(conn, tenant, start, now, dims)
        wide = await repository.aggregate_wide_rollups(conn, tenant, start, now, dims)
        raw = await repository.aggregate_raw(conn, tenant, start, now, dims)
    finally:
        await conn.close()
    assert expected.total.request_count == 3
    assert wide == expected
    assert raw == expected
