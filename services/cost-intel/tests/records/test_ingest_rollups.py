"""Ingestion stores records and keeps every rollup equal to the sums of the stored records, in the
same transaction; batch bodies validate as before."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from aos_common.db import driver_connection
from aos_common.state import service_state
from aos_cost_intel.records import repository
from aos_cost_intel.records.schemas import CostRecordIn
from aos_cost_intel.records.service import record_costs
from aos_cost_intel.settings import CostIntelSettings

URL = "/api/v1/cost/records/batch"
SUMS = (
    "sum(cost_cents), count(*), sum(input_tokens), sum(output_tokens), "
    "sum(cache_read_input_tokens), sum(cache_creation_input_tokens), sum(reasoning_output_tokens)"
)
VALUES = (
    "cost_cents, request_count, input_tokens, output_tokens, cache_read_input_tokens, "
    "cache_creation_input_tokens, reasoning_output_tokens"
)
DIMENSIONS = f"""
    SELECT CASE WHEN GROUPING(feature_tag) = 0 THEN 'feature' WHEN GROUPING(u) = 0 THEN 'user'
                WHEN GROUPING(model) = 0 THEN 'model' ELSE 'total' END,
           '{{grain}}', b, coalesce(feature_tag, u, model, ''), {SUMS}
    FROM (SELECT *, date_trunc('{{unit}}', occurred_at, 'UTC') AS b, coalesce(user_id, '') AS u
          FROM cost_intel.cost_records WHERE tenant_id = $1) AS r
    GROUP BY GROUPING SETS ((b), (b, feature_tag), (b, u), (b, model))
"""


async def rows(conn: asyncpg.Connection, query: str, tenant: str) -> set[tuple[Any, ...]]:
    return {tuple(row) for row in await conn.fetch(query, tenant)}


async def assert_rollups_match_records(database_url: str, tenant: str) -> int:
    """Compare the three rollup tables with sums recomputed from cost_records; returns the count."""
    conn = await asyncpg.connect(database_url)
    try:
        for table, bucket, expected_bucket in (
            ("cost_rollups_hourly", "hour", "date_trunc('hour', occurred_at, 'UTC')"),
            ("cost_rollups_daily", "day", "(occurred_at AT TIME ZONE 'UTC')::date"),
        ):
            stored = await rows(
                conn,
                f"SELECT {bucket}, feature_tag, user_id, model, {VALUES} "
                f"FROM cost_intel.{table} WHERE tenant_id = $1",
                tenant,
            )
            expected = await rows(
                conn,
                f"SELECT {expected_bucket}, feature_tag, coalesce(user_id, ''), model, {SUMS} "
                "FROM cost_intel.cost_records WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4",
                tenant,
            )
            assert stored == expected, table
        stored = await rows(
            conn,
            f"SELECT dim, grain, bucket, key, {VALUES} FROM cost_intel.cost_rollups_dim "
            "WHERE tenant_id = $1",
            tenant,
        )
        expected = await rows(
            conn,
            DIMENSIONS.format(grain="h", unit="hour")
            + " UNION ALL "
            + DIMENSIONS.format(grain="d", unit="day"),
            tenant,
        )
        assert stored == expected, "cost_rollups_dim"
        count: int = await conn.fetchval(
            "SELECT count(*) FROM cost_intel.cost_records WHERE tenant_id = $1", tenant
        )
        return count
    finally:
        await conn.close()


async def test_rollups_equal_the_stored_records_across_hours_days_and_duplicates(
    client: httpx.AsyncClient, admin: dict[str, str], settings: CostIntelSettings, tenant: str
) -> None:
    await client.post(
        "/api/v1/cost/features", json={"tag": "kn.own", "display_name": "k"}, headers=admin
    )
    now = datetime.now(UTC)
    records = [
        {
            "model": "gpt-4o" if i % 3 else "claude-sonnet-4.5",
            "user_id": [None, "", "alice", "bob"][i % 4],
            "feature_tag": ["kn.own", "nope.never", "", None][i % 4],
            "input_tokens": 100 + i,
            "output_tokens": i % 7,
            "cache_read_input_tokens": i % 5,
            "cache_creation_input_tokens": i % 2,
            "reasoning_output_tokens": i % 3,
            "occurred_at": (now - timedelta(hours=i % 50, minutes=i)).isoformat(),
            "request_id": f"r{i % 40}" if i % 2 else "",
        }
        for i in range(120)
    ]
    records += [{"model": "custom", "cost_cents": "0.000000001", "user_id": "carol"}] * 3
    for batch in (records[:60], records[40:], records):
        response = await client.post(URL, json={"records": batch}, headers=admin)
        assert response.status_code == 201, response.text
    single = {"model": "gpt-4o", "input_tokens": 9, "user_id": "alice"}
    assert (await client.post("/api/v1/cost/record", json=single, headers=admin)).status_code == 201
    # Without a request id: 30, 40 + 3 and 60 + 3 per batch; the 20 distinct request ids once;
    # and the single record.
    count = await assert_rollups_match_records(settings.database_url, tenant)
    assert count == 30 + 43 + 63 + 20 + 1


async def test_two_calls_in_one_transaction_count_each_record_once(
    client: httpx.AsyncClient, settings: CostIntelSettings, tenant: str
) -> None:
    state = service_state(client._transport.app)  # type: ignore[attr-defined]
    first: CostRecordIn = {"model": "m", "cost_cents": Decimal("1.5"), "user_id": "u"}
    second: CostRecordIn = {"model": "gpt-4o", "input_tokens": 1000}
    async with state.sessionmaker() as session:
        await record_costs(session, tenant, [first], state.prices)
        await record_costs(session, tenant, [second, first], state.prices)
        await session.commit()
    assert await assert_rollups_match_records(settings.database_url, tenant) == 3


async def test_driver_statements_run_inside_the_session_transaction(
    client: httpx.AsyncClient,
) -> None:
    state = service_state(client._transport.app)  # type: ignore[attr-defined]
    async with state.sessionmaker() as session:
        conn = await driver_connection(session)
        assert conn.is_in_transaction()
        await session.rollback()


async def test_empty_identifiers_in_a_batch_mean_none(
    client: httpx.AsyncClient, admin: dict[str, str], settings: CostIntelSettings, tenant: str
) -> None:
    record = {"model": "m", "cost_cents": 1, "user_id": "", "request_id": "", "skill_id": ""}
    response = await client.post(URL, json={"records": [record, record]}, headers=admin)
    assert response.json()["recorded_count"] == 2
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = await conn.fetch(
            "SELECT user_id, request_id, skill_id, feature_tag FROM cost_intel.cost_records "
            "WHERE tenant_id = $1",
            tenant,
        )
    finally:
        await conn.close()
    assert [tuple(row) for row in stored] == [(None, None, None, "unclassified")] * 2


async def test_an_invalid_record_is_a_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    cases = [
        ({"input_tokens": 1}, "records.1.model", "Field required"),
        ({"model": "m", "input_tokens": -1}, "records.1.input_tokens", "greater than or equal"),
        ({"model": "m", "user_id": "a\u0000b"}, "records.1.user_id", "should match pattern"),
        ({"model": "m", "cost_cents": "1e-21"}, "records.1.cost_cents", "decimal places"),
        ({"model": "m", "occurred_at": "yesterday"}, "records.1.occurred_at", "datetime"),
    ]
    for bad, field, message in cases:
        body = {"records": [{"model": "m", "cost_cents": 1}, bad]}
        response = await client.post(URL, json=body, headers=admin)
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["field"] == field and message in error["message"], error


async def test_staging_survives_a_rolled_back_first_use_of_a_connection(
    settings: CostIntelSettings, tenant: str
) -> None:
    """The staging table created in a transaction that rolls back is gone; the next transaction
    on the same connection creates it again (and asyncpg's cached COPY statement still works)."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    delta = repository.RollupDelta(
        tenant, hour, "unclassified", "u", "m", Decimal("2.5"), 1, 3, 4, 0, 0, 0
    )
    conn = await asyncpg.connect(settings.database_url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await repository.add_to_rollups(conn, [delta])
        await transaction.rollback()
        for _ in range(2):
            async with conn.transaction():
                await repository.add_to_rollups(conn, [delta])
        stored = await conn.fetch(
            "SELECT dim, grain, cost_cents, request_count FROM cost_intel.cost_rollups_dim "
            "WHERE tenant_id = $1 ORDER BY dim, grain",
            tenant,
        )
        hourly = await conn.fetchval(
            "SELECT cost_cents FROM cost_intel.cost_rollups_hourly WHERE tenant_id = $1", tenant
        )
    finally:
        await conn.close()
    assert hourly == Decimal(5)
    assert [tuple(row) for row in stored] == [
        (dim, grain, Decimal(5), 2)
        for dim in ("feature", "model", "total", "user")
        for grain in ("d", "h")
    ]


async def test_concurrent_batches_for_one_tenant_keep_every_rollup_exact(
    client: httpx.AsyncClient, admin: dict[str, str], settings: CostIntelSettings, tenant: str
) -> None:
    """Eight batches at once upsert the same hourly, daily and per-dimension rows of one tenant and
    claim overlapping request ids: none deadlocks or fails, and every rollup equals the sums
    recomputed from the stored records."""
    now = datetime.now(UTC)

    def batch(seed: int) -> list[dict[str, Any]]:
        rng = random.Random(seed)
        return [
            {
                "model": rng.choice(["gpt-4o", "claude-sonnet-4.5", "m-client"]),
                "user_id": f"u{rng.randrange(6)}",
                "input_tokens": rng.randrange(1, 5_000),
                "output_tokens": rng.randrange(0, 900),
                "cache_read_input_tokens": rng.randrange(0, 50),
                "occurred_at": (
                    now - timedelta(hours=rng.randrange(30), minutes=rng.randrange(60))
                ).isoformat(),
                "request_id": f"shared-{rng.randrange(80)}" if rng.random() < 0.25 else "",
            }
            | ({"cost_cents": f"0.{rng.randrange(1, 10**9):09d}"} if rng.random() < 0.2 else {})
            for _ in range(800)
        ]

    batches = [batch(seed) for seed in range(8)]
    for records in batches:
        for record in records:
            if record["model"] == "m-client":
                record.setdefault("cost_cents", "1.5")
    responses = await asyncio.gather(
        *(client.post(URL, json={"records": records}, headers=admin) for records in batches)
    )
    assert [r.status_code for r in responses] == [201] * 8, [r.text[:300] for r in responses]
    request_ids = {r["request_id"] for records in batches for r in records if r["request_id"]}
    without_id = sum(1 for records in batches for r in records if not r["request_id"])
    recorded = sum(r.json()["recorded_count"] for r in responses)
    assert recorded == without_id + len(request_ids)
    assert await assert_rollups_match_records(settings.database_url, tenant) == recorded
