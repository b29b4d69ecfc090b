"""SQL for cost records, request-id claims and rollups.

Bulk paths talk to the request's asyncpg connection directly (same transaction as the session):
`unnest` arrays for claims, COPY for records, and their hourly sums as arrays to one function
that adds them to every rollup, so a 10,000-record batch is a handful of round trips. Rollups are changed
in the same transaction as the records they sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

import asyncpg

from aos_cost_intel.models import SCHEMA

RECORD_COLUMNS = (
    "tenant_id",
    "occurred_at",
    "id",
    "user_id",
    "feature_tag",
    "request_id",
    "workflow_id",
    "skill_id",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_output_tokens",
    "cost_cents",
    "cost_source",
    "price_version",
)
TOKEN_COLUMNS = RECORD_COLUMNS[9:14]


class NewRecord(NamedTuple):
    """A priced record ready to store; field order is RECORD_COLUMNS."""

    tenant_id: str
    occurred_at: datetime
    id: str
    user_id: str | None
    feature_tag: str
    request_id: str | None
    workflow_id: str | None
    skill_id: str | None
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    reasoning_output_tokens: int
    cost_cents: Decimal
    cost_source: str
    price_version: str | None


class RollupDelta(NamedTuple):
    """What a set of new records adds to one hourly rollup row."""

    tenant_id: str
    hour: datetime
    feature_tag: str
    user_id: str
    model: str
    cost_cents: Decimal
    request_count: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    reasoning_output_tokens: int


async def copy_records(conn: asyncpg.Connection, records: Iterable[NewRecord]) -> None:
    """COPY `records` into cost_records; rows are encoded and sent in chunks as `records` yields
    them, so Postgres stores one chunk while the caller produces the next."""
    await conn.copy_records_to_table(
        "cost_records", schema_name=SCHEMA, columns=list(RECORD_COLUMNS), records=records
    )


_VALUES = "cost_cents, request_count, " + ", ".join(TOKEN_COLUMNS)
_ADD = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in _VALUES.split(", "))


async def add_to_rollups(conn: asyncpg.Connection, hourly: Sequence[RollupDelta]) -> None:
    """Add hourly increments to the hourly, daily and per-dimension rollups, in the caller's
    transaction: one call of `add_rollups` (migration 0011), whose statements are planned once
    per connection; the daily and per-dimension increments are folded in Postgres (exact
    NUMERIC) from the hourly ones."""
    if not hourly:
        return
    columns = list(zip(*hourly, strict=True))
    await conn.execute(
        f"SELECT {SCHEMA}.add_rollups($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        *(list(column) for column in columns),
    )


async def claim_request_ids(
    conn: asyncpg.Connection, tenant_id: str, claims: Sequence[tuple[str, str, datetime]]
) -> set[str]:
    """Claim (request_id, record_id, occurred_at) rows; returns the request ids newly claimed.

    A request id claimed by a concurrent, uncommitted transaction makes this wait for it: the
    primary key is the final word on exactly-once, with or without Redis.
    """
    if not claims:
        return set()
    rows = await conn.fetch(
        f"""
        INSERT INTO {SCHEMA}.cost_request_ids (tenant_id, request_id, record_id, occurred_at)
        SELECT $1, r, i, o FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS t(r, i, o)
        ORDER BY r
        ON CONFLICT (tenant_id, request_id) DO NOTHING
        RETURNING request_id
        """,
        tenant_id,
        [c[0] for c in claims],
        [c[1] for c in claims],
        [c[2] for c in claims],
    )
    return {row["request_id"] for row in rows}


async def claimed_records(
    conn: asyncpg.Connection, tenant_id: str, request_ids: Sequence[str]
) -> dict[str, tuple[str, Decimal, str | None]]:
    """request_id -> (record id, cost_cents, price_version) of records stored earlier.

    Each claim and record is looked up by its full primary key (a LIMIT 1 sub-select, which the
    planner cannot turn into a join): as `request_id = ANY($2)` the prepared statement's generic
    plan could scan every claim of the tenant (the same plan as reservations' lookups had)."""
    if not request_ids:
        return {}
    rows = await conn.fetch(
        f"""
        SELECT q.request_id, r.id, r.cost_cents, r.price_version
        FROM unnest($2::text[]) AS w(request_id)
        CROSS JOIN LATERAL (
            SELECT c.request_id, c.occurred_at, c.record_id FROM {SCHEMA}.cost_request_ids c
            WHERE c.tenant_id = $1 AND c.request_id = w.request_id LIMIT 1
        ) q
        CROSS JOIN LATERAL (
            SELECT x.id, x.cost_cents, x.price_version FROM {SCHEMA}.cost_records x
            WHERE x.tenant_id = $1 AND x.occurred_at = q.occurred_at AND x.id = q.record_id
            LIMIT 1
        ) r
        """,
        tenant_id,
        list(request_ids),
    )
    return {row["request_id"]: (row["id"], row["cost_cents"], row["price_version"]) for row in rows}


async def records_for_run(
    conn: asyncpg.Connection, tenant_id: str, run_id: str
) -> list[asyncpg.Record]:
    """Records whose workflow_id is the run id or whose request_id starts with it."""
    upper = run_id + "\U0010ffff"
    return list(
        await conn.fetch(
            f"""
            SELECT r.* FROM {SCHEMA}.cost_records r
            WHERE r.tenant_id = $1 AND r.workflow_id = $2
            UNION
            SELECT r.* FROM {SCHEMA}.cost_request_ids q
            JOIN {SCHEMA}.cost_records r
              ON r.tenant_id = q.tenant_id AND r.occurred_at = q.occurred_at AND r.id = q.record_id
            WHERE q.tenant_id = $1 AND q.request_id >= $2 AND q.request_id < $3
              AND left(q.request_id, length($2)) = $2
            ORDER BY occurred_at, id
            LIMIT 100000
            """,
            tenant_id,
            run_id,
            upper,
        )
    )


_WINDOW_COLUMNS = "occurred_at, id, model, cost_source, cost_cents, price_version, " + ", ".join(
    TOKEN_COLUMNS
)


async def records_in_window(
    conn: asyncpg.Connection,
    tenant_id: str,
    start: datetime,
    end: datetime,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[asyncpg.Record]:
    """Up to `limit` records of [start, end) in (occurred_at, id) order, from just past `after`
    (the last key of the previous chunk): keyset pagination along the primary key, so a window
    of any size is read a chunk at a time and each chunk costs the same."""
    keyset = "" if after is None else "AND (tenant_id, occurred_at, id) > ($1, $5, $6)"
    query = f"""
        SELECT {_WINDOW_COLUMNS} FROM {SCHEMA}.cost_records
        WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 {keyset}
        ORDER BY occurred_at, id
        LIMIT $4
    """
    return list(await conn.fetch(query, tenant_id, start, end, limit, *(after or ())))


async def update_costs(
    conn: asyncpg.Connection,
    tenant_id: str,
    changes: Sequence[tuple[datetime, str, Decimal]],
    price_version: str,
) -> None:
    if not changes:
        return
    await conn.execute(
        f"""
        UPDATE {SCHEMA}.cost_records r SET cost_cents = c.cost, price_version = $5
        FROM unnest($2::timestamptz[], $3::text[], $4::numeric[]) AS c(occurred_at, id, cost)
        WHERE r.tenant_id = $1 AND r.occurred_at = c.occurred_at AND r.id = c.id
        """,
        tenant_id,
        [c[0] for c in changes],
        [c[1] for c in changes],
        [c[2] for c in changes],
        price_version,
    )


async def rebuild_rollups(
    conn: asyncpg.Connection,
    tenant_id: str,
    hour_start: datetime,
    hour_end: datetime,
    day_start: date,
    day_end: date,
) -> None:
    """Recompute rollups of a tenant from its records: hours [hour_start, hour_end) and days
    [day_start, day_end] (after a reprice changed costs inside them)."""
    await _rebuild_wide_grain(conn, tenant_id, _HOURLY, hour_start, hour_end)
    await _rebuild_wide_grain(conn, tenant_id, _DAILY, day_start, day_end)
    await rebuild_dimension_rollups(conn, tenant_id, hour_start, hour_end, day_start, day_end)


async def _rebuild_wide_grain(
    conn: asyncpg.Connection, tenant_id: str, grain: _Grain, start: object, end: object
) -> None:
    """Delete one grain's wide rows of a range and sum them again from the records."""
    sums = "sum(cost_cents), count(*), " + ", ".join(f"sum({c})" for c in TOKEN_COLUMNS)
    table, column = f"{SCHEMA}.{grain.table}", grain.column
    await conn.execute(
        f"DELETE FROM {table} WHERE tenant_id = $1 AND {column} >= $2 AND {column} {grain.upper} $3",
        tenant_id,
        start,
        end,
    )
    await conn.execute(
        f"""
        INSERT INTO {table} (tenant_id, {column}, feature_tag, user_id, model, {_VALUES})
        SELECT tenant_id, {grain.of_record}, feature_tag, coalesce(user_id, ''), model, {sums}
        FROM {SCHEMA}.cost_records
        WHERE tenant_id = $1 AND {grain.records_in_range}
        GROUP BY 1, 2, 3, 4, 5
        """,
        tenant_id,
        start,
        end,
    )


_DIM_SELECT = """
    SELECT tenant_id,
           CASE WHEN GROUPING(feature_tag) = 0 THEN 'feature' WHEN GROUPING(user_id) = 0 THEN 'user'
                WHEN GROUPING(model) = 0 THEN 'model' ELSE 'total' END,
           '{grain}', {bucket}, coalesce(feature_tag, user_id, model, ''),
           sum(cost_cents), sum(request_count), sum(input_tokens), sum(output_tokens),
           sum(cache_read_input_tokens), sum(cache_creation_input_tokens), sum(reasoning_output_tokens)
    FROM {schema}.{table}
    WHERE tenant_id = $1 AND {column} >= $2 AND {column} {upper} $3
    GROUP BY GROUPING SETS ((tenant_id, {column}), (tenant_id, {column}, feature_tag),
                            (tenant_id, {column}, user_id), (tenant_id, {column}, model))
"""


@dataclass(frozen=True)
class _Grain:
    """One grain of the rollups: its wide table, and how records and dimension rows map to it."""

    code: str  # cost_rollups_dim.grain
    table: str
    column: str
    upper: str  # an hour range is half-open (<), a day range closed (<=)
    as_bucket: str  # turns a value of `column` (or a parameter) into a bucket timestamp
    of_record: str  # a record's value of `column`
    records_in_range: str  # the records inside [$2, $3] (or [$2, $3)) of this grain


_HOURLY = _Grain(
    "h",
    "cost_rollups_hourly",
    "hour",
    "<",
    "{}",
    "date_trunc('hour', occurred_at, 'UTC')",
    "occurred_at >= $2 AND occurred_at < $3",
)
_DAILY = _Grain(
    "d",
    "cost_rollups_daily",
    "day",
    "<=",
    "(({}::date)::timestamp AT TIME ZONE 'UTC')",
    "(occurred_at AT TIME ZONE 'UTC')::date",
    "occurred_at >= ($2::date)::timestamp AT TIME ZONE 'UTC' "
    "AND occurred_at < (($3::date + 1)::timestamp AT TIME ZONE 'UTC')",
)


async def _rebuild_grain(
    conn: asyncpg.Connection, tenant_id: str, grain: _Grain, start: object, end: object
) -> None:
    """Delete one grain's dimension rows of a range and sum them again from its wide table."""
    lower, upper = grain.as_bucket.format("$2"), grain.as_bucket.format("$3")
    await conn.execute(
        f"DELETE FROM {SCHEMA}.cost_rollups_dim WHERE tenant_id = $1 AND grain = '{grain.code}' "
        f"AND bucket >= {lower} AND bucket {grain.upper} {upper}",
        tenant_id,
        start,
        end,
    )
    select = _DIM_SELECT.format(
        grain=grain.code,
        bucket=grain.as_bucket.format(grain.column),
        schema=SCHEMA,
        table=grain.table,
        column=grain.column,
        upper=grain.upper,
    )
    await conn.execute(f"INSERT INTO {SCHEMA}.cost_rollups_dim {select}", tenant_id, start, end)


async def rebuild_dimension_rollups(
    conn: asyncpg.Connection,
    tenant_id: str,
    hour_start: datetime,
    hour_end: datetime,
    day_start: date,
    day_end: date,
) -> None:
    """Recompute the per-dimension rollups of a range from the wide ones."""
    await _rebuild_grain(conn, tenant_id, _HOURLY, hour_start, hour_end)
    await _rebuild_grain(conn, tenant_id, _DAILY, day_start, day_end)
