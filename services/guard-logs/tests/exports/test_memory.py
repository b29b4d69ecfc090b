"""A 100,000-row export streams end to end without holding the result in memory.

The rows are bulk-inserted into the traces service's table (one INSERT ... SELECT, the way the
traces service's own bulk path lands rows) and read back through its real streaming route. The
whole chain runs in this process (traces app -> guard-logs app -> client, every hop streaming), so
the RSS of this process bounds the memory of all of it; it is sampled every 10 ms.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import hashlib
import io
import threading
import time
from typing import Any

import asyncpg
import psutil
import pytest

from ..conftest import Platform, new_tenant, reader

ROWS = 100_000
MEMORY_BUDGET_BYTES = 50 * 1024 * 1024
EXPORT = "/api/v1/guard/logs/export"

BULK_INSERT = """
INSERT INTO traces.traces (
    tenant_id, trace_id, run_id, correlation_id, agent_id, plan, metadata, started_at,
    completed_at, status, seed, frozen_timestamp, root_hash, hash_verified, schema_version,
    is_synthetic, replay_mode, level, total_steps, success_count, failure_count,
    total_cost_cents, total_duration_ms, source)
SELECT $1, 'trace_' || lpad(to_hex(i), 16, '0'), 'run_' || lpad(to_hex(i), 16, '0'),
       'corr_' || i, 'agent-' || (i % 10), '[]'::jsonb, '{}'::jsonb,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' + interval '2 seconds',
       'completed', 42, '2026-01-01T00:00:00+00:00', repeat('a', 64), true, '1.1',
       false, 'execute', 'INFO', 3, 2, 1, 1.5, 120, 'engine'
FROM generate_series(1, $2) AS i
"""


class RssSampler:
    """Peak resident set size of this process while a block runs."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.baseline = 0
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        gc.collect()
        self.baseline = self.peak = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@pytest.fixture(scope="module")
async def bulk_tenant(platform: Platform, database_url: str) -> str:
    tenant = new_tenant()
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(BULK_INSERT, tenant, ROWS)
    finally:
        await connection.close()
    return tenant


async def test_csv_export_of_100000_rows_stays_within_50_mb(
    platform: Platform, bulk_tenant: str
) -> None:
    digest = hashlib.sha256()
    lines = 0
    tail = b""
    async with platform.streaming_client() as client:
        with RssSampler() as memory:
            async with client.stream(
                "GET",
                EXPORT,
                params={"format": "csv", "limit": ROWS},
                headers=reader(bulk_tenant),
            ) as response:
                assert response.status_code == 200
                export_id = response.headers["x-export-id"]
                async for chunk in response.aiter_bytes():
                    digest.update(chunk)
                    lines += chunk.count(b"\r\n")
                    tail = (tail + chunk)[-4096:]
    print(f"100,000-row CSV export: peak RSS growth {memory.growth / 1e6:.1f} MB")
    assert lines == ROWS + 1
    last = next(csv.reader(io.StringIO(tail.decode().split("\r\n")[-2], newline="")))
    assert last[1].startswith("run_")
    assert memory.growth < MEMORY_BUDGET_BYTES, f"RSS grew by {memory.growth / 1e6:.1f} MB"
    listed = await platform.client.get(
        "/api/v1/guard/logs", params={"limit": 1}, headers=reader(bulk_tenant)
    )
    assert listed.json()["total"] == ROWS
    record = await platform.client.get(
        f"/api/v1/logs/exports/{export_id}", headers=reader(bulk_tenant)
    )
    assert record.json()["data"]["row_count"] == ROWS
    assert record.json()["data"]["sha256"] == digest.hexdigest()


async def test_an_export_the_client_abandons_is_recorded_as_aborted(
    platform: Platform, bulk_tenant: str
) -> None:
    async with (
        platform.streaming_client() as client,
        client.stream(
            "GET", EXPORT, params={"format": "csv", "limit": ROWS}, headers=reader(bulk_tenant)
        ) as response,
    ):
        export_id = response.headers["x-export-id"]
        async for _chunk in response.aiter_bytes():
            break
    record: dict[str, Any] = {}
    for _attempt in range(50):
        answer = await platform.client.get(
            f"/api/v1/logs/exports/{export_id}", headers=reader(bulk_tenant)
        )
        if answer.status_code == 200:
            record = answer.json()["data"]
            break
        await asyncio.sleep(0.1)
    assert record["status"] == "aborted"
    assert 0 < record["row_count"] < ROWS
