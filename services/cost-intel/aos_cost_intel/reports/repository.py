"""Report queries: sums over a window, read from rollups (daily rows for whole days, hourly rows for
the window's ragged first day), or from the raw records for comparison.

Each source answers every panel with one statement (one snapshot), so a dashboard's summary and
breakdowns agree by construction; the routes read the per-dimension rollups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import asyncpg

from aos_cost_intel.domain.money import ZERO
from aos_cost_intel.models import SCHEMA

DIMENSIONS = ("feature_tag", "user_id", "model")
TOTALS = (
    "cost_cents",
    "request_count",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_output_tokens",
)
TOKEN_SUMS = ", ".join(f"sum({c}) AS {c}" for c in TOTALS[2:])


@dataclass
class Totals:
    cost_cents: Decimal = ZERO
    request_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_output_tokens: int = 0


@dataclass
class Aggregates:
    """A window's totals and its breakdowns by feature, user ('' = anonymous) and model."""

    total: Totals = field(default_factory=Totals)
    by: dict[str, dict[str, Totals]] = field(
        default_factory=lambda: {name: {} for name in DIMENSIONS}
    )


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def rollup_slices(start: datetime, end: datetime) -> tuple[date, date, datetime, datetime]:
    """(first whole day, last day, hourly start, hourly end) covering [start, end]."""
    first_day = (
        start.date() if start == midnight(start.date()) else start.date() + timedelta(days=1)
    )
    hourly_end = min(midnight(first_day), end + timedelta(microseconds=1))
    return first_day, end.date(), start, hourly_end


def _grouping_sets(dimensions: Sequence[str]) -> str:
    sets = ["()"] + [f"({d})" for d in dimensions]
    return ", ".join(sets)


def _select(dimensions: Sequence[str]) -> str:
    grouping = ", ".join(f"GROUPING({d}) AS g_{d}" for d in DIMENSIONS if d in dimensions)
    keys = ", ".join(d for d in DIMENSIONS if d in dimensions)
    head = f"{grouping}, {keys}, " if dimensions else ""
    return (
        f"SELECT {head}sum(cost_cents) AS cost_cents, sum(request_count) AS request_count, "
        f"{TOKEN_SUMS} FROM slices GROUP BY GROUPING SETS ({_grouping_sets(dimensions)})"
    )


COLUMNS = "feature_tag, user_id, model, cost_cents, request_count, " + ", ".join(TOTALS[2:])
RAW_COLUMNS = (
    "feature_tag, coalesce(user_id, '') AS user_id, model, cost_cents, 1 AS request_count, "
    + ", ".join(TOTALS[2:])
)


def _collect(rows: Sequence[asyncpg.Record], dimensions: Sequence[str]) -> Aggregates:
    result = Aggregates()
    for row in rows:
        totals = Totals(
            cost_cents=row["cost_cents"] if row["cost_cents"] is not None else ZERO,
            **{c: int(row[c] or 0) for c in TOTALS[1:]},
        )
        ungrouped = [d for d in dimensions if row[f"g_{d}"] == 0]
        if not ungrouped:
            result.total = totals
        else:
            name = ungrouped[0]
            result.by[name][row[name]] = totals
    return result


async def _sum_slices(
    conn: asyncpg.Connection, slices: str, dimensions: Sequence[str], *args: object
) -> Aggregates:
    """Sum the rows of `slices` (a SELECT of COLUMNS) over every panel requested in one statement:
    the comparison sources (wide rollups, raw records) differ only in where their rows come from."""
    rows = await conn.fetch(f"WITH slices AS ({slices}) {_select(dimensions)}", *args)
    return _collect(rows, dimensions)


DIM_OF = {"feature_tag": "feature", "user_id": "user", "model": "model"}
COLUMN_OF = {dim: column for column, dim in DIM_OF.items()}


async def aggregate_rollups(
    conn: asyncpg.Connection,
    tenant_id: str,
    start: datetime,
    end: datetime,
    dimensions: Sequence[str],
) -> Aggregates:
    """What the routes use: per-dimension rollups, one statement for every panel requested."""
    first_day, last_day, hourly_start, hourly_end = rollup_slices(start, end)
    rows = await conn.fetch(
        f"""
        SELECT dim, key, sum(cost_cents) AS cost_cents, sum(request_count) AS request_count,
               {TOKEN_SUMS}
        FROM {SCHEMA}.cost_rollups_dim
        WHERE tenant_id = $1 AND dim = ANY($2::text[])
          AND ((grain = 'd' AND bucket >= $3 AND bucket <= $4)
               OR (grain = 'h' AND bucket >= $5 AND bucket < $6))
        GROUP BY dim, key
        """,
        tenant_id,
        ["total", *(DIM_OF[d] for d in dimensions)],
        midnight(first_day),
        midnight(last_day),
        hourly_start,
        hourly_end,
    )
    result = Aggregates()
    for row in rows:
        totals = Totals(cost_cents=row["cost_cents"], **{c: int(row[c]) for c in TOTALS[1:]})
        if row["dim"] == "total":
            result.total = totals
        else:
            result.by[COLUMN_OF[row["dim"]]][row["key"]] = totals
    return result


async def aggregate_wide_rollups(
    conn: asyncpg.Connection,
    tenant_id: str,
    start: datetime,
    end: datetime,
    dimensions: Sequence[str],
) -> Aggregates:
    """The same from the wide (tenant, bucket, feature, user, model) rollups (for comparison)."""
    first_day, last_day, hourly_start, hourly_end = rollup_slices(start, end)
    slices = f"""
        SELECT {COLUMNS} FROM {SCHEMA}.cost_rollups_daily
        WHERE tenant_id = $1 AND day >= $2 AND day <= $3
        UNION ALL
        SELECT {COLUMNS} FROM {SCHEMA}.cost_rollups_hourly
        WHERE tenant_id = $1 AND hour >= $4 AND hour < $5
    """
    args = (tenant_id, first_day, last_day, hourly_start, hourly_end)
    return await _sum_slices(conn, slices, dimensions, *args)


async def aggregate_raw(
    conn: asyncpg.Connection,
    tenant_id: str,
    start: datetime,
    end: datetime,
    dimensions: Sequence[str],
) -> Aggregates:
    """The same figures straight from cost_records (benchmarks and cross-checks)."""
    slices = f"""
        SELECT {RAW_COLUMNS} FROM {SCHEMA}.cost_records
        WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at <= $3
    """
    return await _sum_slices(conn, slices, dimensions, tenant_id, start, end)


async def daily_costs(
    conn: asyncpg.Connection, tenant_id: str, first_day: date, last_day: date
) -> list[tuple[date, Decimal]]:
    """Tenant spend per day that has records, oldest first."""
    rows = await conn.fetch(
        f"""
        SELECT bucket, cost_cents FROM {SCHEMA}.cost_rollups_dim
        WHERE tenant_id = $1 AND dim = 'total' AND grain = 'd' AND key = ''
          AND bucket >= $2 AND bucket <= $3
        ORDER BY bucket
        """,
        tenant_id,
        midnight(first_day),
        midnight(last_day),
    )
    return [(row["bucket"].astimezone(UTC).date(), row["cost_cents"]) for row in rows]


async def spend_between(
    conn: asyncpg.Connection,
    tenant_id: str,
    first_day: date,
    last_day: date,
    *,
    feature_tag: str | None = None,
    user_id: str | None = None,
) -> Decimal:
    """Spend of the tenant (or one feature, or one user) on days [first_day, last_day]."""
    if feature_tag is not None:
        dim, key = "feature", feature_tag
    elif user_id is not None:
        dim, key = "user", user_id
    else:
        dim, key = "total", ""
    value = await conn.fetchval(
        f"""
        SELECT sum(cost_cents) FROM {SCHEMA}.cost_rollups_dim
        WHERE tenant_id = $1 AND dim = $2 AND grain = 'd' AND bucket >= $3 AND bucket <= $4
          AND key = $5
        """,
        tenant_id,
        dim,
        midnight(first_day),
        midnight(last_day),
        key,
    )
    return value if value is not None else ZERO


async def spend_series(
    conn: asyncpg.Connection, tenant_id: str, dim: str, grain: str, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    """Per-bucket spend of one dimension (`model` or `feature`) at one grain (`h` or `d`)."""
    return await conn.fetch(
        f"""
        SELECT bucket, key, cost_cents, request_count FROM {SCHEMA}.cost_rollups_dim
        WHERE tenant_id = $1 AND dim = $2 AND grain = $3 AND bucket >= $4 AND bucket <= $5
        ORDER BY bucket, key
        """,
        tenant_id,
        dim,
        grain,
        start,
        end,
    )
