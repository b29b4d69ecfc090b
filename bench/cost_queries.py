"""Cost-intel benchmark: dashboard queries from rollups vs the raw table, and batch ingestion.

1. Generates cost records for one tenant over 30 days (1,000 users, 50 features, 20 models) by
   COPY straight into cost_records, as many as fit in --max-seconds (10 million if the machine
   allows), then builds the hourly and daily rollups from them in SQL.
2. Times batch ingestion through the API (POST /api/v1/cost/records/batch, 10,000 per call):
   in-process ASGI one call at a time, then as production runs it: the service under uvicorn in
   its own process(es) (--http-workers), this process posting pre-encoded bodies over HTTP with
   N calls in flight (--http-concurrency), all to the one generated tenant (the hard
   case: concurrent batches lock the same recent rollup rows), with the CPU per record of the
   service, its PostgreSQL backends and this load generator.
3. Times GET /cost/dashboard?period=30d, /cost/by-user?period=7d and /cost/summary?period=24h
   through the app (in-process ASGI, no sockets), and the same aggregations against the raw
   cost_records table for comparison.

Writes the figures to the "cost_queries" section of docs/PERFORMANCE.md.

    uv run python bench/cost_queries.py [--records 10000000] [--max-seconds 300]
        [--http-workers 2] [--http-concurrency 2,4] [--http-batches 20]

With --ingest-only it stops after step 2 and prints the ingest rates without touching
docs/PERFORMANCE.md (a quick check: --records 50000 --ingest-only takes seconds);
--http-workers 0 skips the runs under uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
from _support import CpuMeter, free_port, start_uvicorn, write_performance_section
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aos_common.testing.support import (
    app_client,
    create_database,
    drop_database,
    migrate,
    principal_headers,
)
from aos_cost_intel.domain.pricing import TokenUsage, cost_cents, shipped_price_book
from aos_cost_intel.main import create_app
from aos_cost_intel.records import repository as records_repository
from aos_cost_intel.records.repository import RECORD_COLUMNS
from aos_cost_intel.reports import repository as reports_repository
from aos_cost_intel.settings import CostIntelSettings

TENANT = "tnt_bench00000000000"
USERS, FEATURES, MODELS, DAYS = 1_000, 50, 20, 30
CHUNK = 50_000
INPUT_SIZES = [120, 400, 800, 1_500, 3_000, 6_000, 12_000]
OUTPUT_SIZES = [20, 80, 200, 500, 1_200]
SECTION = "cost_queries"
SECRET = "bench-internal-secret-" + secrets.token_hex(8)
BATCH_URL = "/api/v1/cost/records/batch"
console = Console()


@dataclass
class Shape:
    """Who uses what: each user works in 2 features, each feature calls 2 models, and a few
    users make most calls (Zipf-like weights), as real tenants do."""

    users: list[str]
    weights: list[float]
    user_features: dict[str, list[str]]
    feature_models: dict[str, list[str]]
    costs: dict[tuple[str, int, int], Decimal]


def make_shape(rng: random.Random) -> Shape:
    book = shipped_price_book()
    names = []
    for price in book.prices:
        if price.model not in names and price.output > 0:
            names.append(price.model)
    models = names[:MODELS]
    features = [f"area{i // 10}.feature{i}" for i in range(FEATURES)]
    users = [f"user{i:04d}" for i in range(USERS)]
    now = datetime.now(UTC)
    costs = {}
    for model in models:
        price = book.find(model, now)
        assert price is not None
        for size_in in INPUT_SIZES:
            for size_out in OUTPUT_SIZES:
                costs[(model, size_in, size_out)] = cost_cents(
                    TokenUsage(input_tokens=size_in, output_tokens=size_out), price
                )
    return Shape(
        users=users,
        weights=[1 / (rank + 1) ** 0.8 for rank in range(USERS)],
        user_features={u: rng.sample(features, 2) for u in users},
        feature_models={f: rng.sample(models, 2) for f in features},
        costs=costs,
    )


def chunk_rows(
    rng: random.Random,
    shape: Shape,
    start: datetime,
    span: timedelta,
    count: int,
    version: str,
    serial: int,
) -> list[tuple[Any, ...]]:
    users = rng.choices(shape.users, weights=shape.weights, k=count)
    offsets = sorted(rng.random() for _ in range(count))
    rows = []
    for index, user in enumerate(users):
        feature = rng.choice(shape.user_features[user])
        model = rng.choice(shape.feature_models[feature])
        size_in, size_out = rng.choice(INPUT_SIZES), rng.choice(OUTPUT_SIZES)
        rows.append(
            (
                TENANT,
                start + span * offsets[index],
                f"cr_{serial + index:016x}",
                user,
                feature,
                None,
                None,
                None,
                model,
                size_in,
                size_out,
                0,
                0,
                0,
                shape.costs[(model, size_in, size_out)],
                "priced",
                version,
            )
        )
    return rows


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def generate(
    conn: asyncpg.Connection, target: int, max_seconds: float, rng: random.Random
) -> tuple[int, float]:
    """COPY records in chronological chunks until `target` or the time budget; returns
    (records, seconds). The chunk count is fixed after the first chunk's speed is known, so
    whatever is generated still spans the whole 30 days."""
    shape = make_shape(rng)
    now = datetime.now(UTC) - timedelta(minutes=1)
    start = now - timedelta(days=DAYS)
    began = time.perf_counter()
    rows = chunk_rows(rng, shape, start, timedelta(days=DAYS) / 400, CHUNK, "2025.11.0", 0)
    await conn.copy_records_to_table(
        "cost_records", schema_name="cost_intel", columns=list(RECORD_COLUMNS), records=rows
    )
    first = time.perf_counter() - began
    affordable = int(max_seconds / first * 0.85) * CHUNK
    total = max(CHUNK, min(target, affordable))
    chunks = total // CHUNK
    span = timedelta(days=DAYS) / chunks
    await conn.execute("TRUNCATE cost_intel.cost_records")
    began = time.perf_counter()
    with Progress(
        TextColumn("COPY cost_records"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("copy", total=chunks * CHUNK)
        for index in range(chunks):
            rows = chunk_rows(
                rng, shape, start + span * index, span, CHUNK, "2025.11.0", index * CHUNK
            )
            await conn.copy_records_to_table(
                "cost_records", schema_name="cost_intel", columns=list(RECORD_COLUMNS), records=rows
            )
            progress.advance(task, CHUNK)
    return chunks * CHUNK, time.perf_counter() - began


def fresh_headers() -> dict[str, str]:
    """A signed principal context lives 60 s; sign one per call (outside the timing)."""
    return principal_headers(TENANT, roles=["admin"])


async def time_calls(client: httpx.AsyncClient, url: str, runs: int) -> list[float]:
    for _ in range(3):
        response = await client.get(url, headers=fresh_headers())
        assert response.status_code == 200, response.text[:300]
    timings = []
    for _ in range(runs):
        headers = fresh_headers()
        began = time.perf_counter()
        response = await client.get(url, headers=headers)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    return timings


SOURCES = {
    "rollups": reports_repository.aggregate_rollups,
    "wide": reports_repository.aggregate_wide_rollups,
    "raw": reports_repository.aggregate_raw,
}


async def time_sql(
    conn: asyncpg.Connection, source: str, days: float, dims: tuple[str, ...], runs: int
) -> list[float]:
    end = datetime.now(UTC)
    start = (end - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    function = SOURCES[source]
    await function(conn, TENANT, start, end, dims)
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        await function(conn, TENANT, start, end, dims)
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def batch_bodies(batches: int, rng: random.Random) -> list[bytes]:
    """Pre-encoded bodies of 10,000 records each, spread over the last hour."""
    shape = make_shape(rng)
    now = datetime.now(UTC)
    bodies = []
    for _ in range(batches):
        records = []
        for user in rng.choices(shape.users, weights=shape.weights, k=10_000):
            feature = rng.choice(shape.user_features[user])
            records.append(
                {
                    "model": rng.choice(shape.feature_models[feature]),
                    "user_id": user,
                    "feature_tag": feature,
                    "input_tokens": rng.choice(INPUT_SIZES),
                    "output_tokens": rng.choice(OUTPUT_SIZES),
                    "occurred_at": (now - timedelta(seconds=rng.uniform(60, 3600))).isoformat(),
                }
            )
        bodies.append(orjson.dumps({"records": records}))
    return bodies


async def ingest(client: httpx.AsyncClient, batches: int, rng: random.Random) -> tuple[int, float]:
    bodies = batch_bodies(batches, rng)
    elapsed = 0.0
    with Progress(
        TextColumn("POST /cost/records/batch"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("ingest", total=batches * 10_000)
        for body in bodies:
            began = time.perf_counter()
            response = await client.post(
                BATCH_URL,
                content=body,
                headers={**fresh_headers(), "content-type": "application/json"},
            )
            elapsed += time.perf_counter() - began
            assert response.status_code == 201, response.text[:300]
            progress.advance(task, 10_000)
    return batches * 10_000, elapsed


@dataclass
class HttpFigure:
    """One concurrent HTTP ingest run: wall-clock rate and CPU per record of each process group."""

    workers: int
    concurrency: int
    records: int
    seconds: float
    service_cpu: float
    postgres_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    def per_record(self, seconds: float) -> str:
        return f"{seconds / self.records * 1e6:.1f} µs"

    def row(self) -> str:
        total = self.service_cpu + self.postgres_cpu + self.client_cpu
        return (
            f"| {self.workers} | {self.concurrency} | {self.records:,} | {self.seconds:.2f} | "
            f"**{self.rate:,.0f}** | {self.per_record(self.service_cpu)} | "
            f"{self.per_record(self.postgres_cpu)} | {self.per_record(self.client_cpu)} | "
            f"{self.per_record(total)} |"
        )


async def post_concurrently(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Post every body with `concurrency` calls in flight; seconds from first send to last reply."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            headers = {
                **principal_headers(TENANT, roles=["admin"], secret=SECRET),
                "content-type": "application/json",
            }
            response = await client.post(BATCH_URL, content=body, headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"{BATCH_URL} answered {response.status_code}: {response.text}")

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - began


async def http_ingest(
    args: argparse.Namespace, database_url: str, rng: random.Random
) -> list[HttpFigure]:
    """Batch ingest against the service under uvicorn, for each worker count and concurrency."""
    env = {
        **os.environ,
        "AOS_DATABASE_URL": database_url,
        "AOS_REDIS_URL": args.redis_url,
        "AOS_ENVIRONMENT": "test",
        "AOS_TELEMETRY_ENABLED": "false",
        "AOS_INTERNAL_SECRET": SECRET,
        "AOS_DETECTOR_INTERVAL_SECONDS": "0",
        "AOS_OUTBOX_INTERVAL_SECONDS": "3600",
    }
    database = database_url.rsplit("/", 1)[-1].split("?")[0]
    figures = []
    for workers in args.http_workers:
        port = free_port()
        server = start_uvicorn("aos_cost_intel.main:create_app", env, port, workers, "cost-intel")
        url = f"http://127.0.0.1:{port}"
        try:
            meter = CpuMeter(server.pid, database)
            warm = max(workers, 2)
            await post_concurrently(url, batch_bodies(2 * warm, rng), warm)
            for concurrency in args.http_concurrency:
                bodies = batch_bodies(args.http_batches, rng)
                mark = meter.read()
                seconds = await post_concurrently(url, bodies, concurrency)
                service, postgres, client = (a - b for a, b in zip(meter.read(), mark, strict=True))
                figure = HttpFigure(
                    workers, concurrency, len(bodies) * 10_000, seconds, service, postgres, client
                )
                console.print(
                    f"HTTP ingest, {workers} worker(s), {concurrency} in flight: "
                    f"{figure.records:,} records in {seconds:.2f} s ({figure.rate:,.0f}/s); CPU per "
                    f"record: service {figure.per_record(service)}, PostgreSQL "
                    f"{figure.per_record(postgres)}, client {figure.per_record(client)}"
                )
                figures.append(figure)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return figures


def row(name: str, source: str, timings: list[float]) -> str:
    return (
        f"| {name} | {source} | {len(timings)} | {statistics.median(timings):,.1f} | "
        f"{percentile(timings, 95):,.1f} | {max(timings):,.1f} |"
    )


async def run(args: argparse.Namespace, database_url: str) -> None:
    rng = random.Random(42)
    conn = await asyncpg.connect(database_url)
    records, copy_seconds = await generate(conn, args.records, args.max_seconds, rng)
    console.print(
        f"COPY: {records:,} records in {copy_seconds:.1f} s ({records / copy_seconds:,.0f}/s)"
    )
    began = time.perf_counter()
    end = datetime.now(UTC) + timedelta(hours=1)
    first = end - timedelta(days=DAYS + 2)
    async with conn.transaction():
        await records_repository.rebuild_rollups(
            conn,
            TENANT,
            first.replace(minute=0, second=0, microsecond=0),
            end.replace(minute=0, second=0, microsecond=0),
            first.date(),
            end.date(),
        )
    rollup_seconds = time.perf_counter() - began
    await conn.execute(
        "ANALYZE cost_intel.cost_records; ANALYZE cost_intel.cost_rollups_hourly; "
        "ANALYZE cost_intel.cost_rollups_daily; ANALYZE cost_intel.cost_rollups_dim"
    )
    counts = {
        table: await conn.fetchval(f"SELECT count(*) FROM cost_intel.{table}")
        for table in ("cost_rollups_hourly", "cost_rollups_daily", "cost_rollups_dim")
    }
    console.print(f"rollups built in {rollup_seconds:.1f} s: {counts}")
    settings = CostIntelSettings(
        database_url=database_url,
        environment="test",
        telemetry_enabled=False,
        detector_interval_seconds=0,
    )
    headers = principal_headers(TENANT, roles=["admin"])
    results: list[str] = []
    http_p95: dict[str, float] = {}
    async with app_client(create_app(settings)) as client:
        for index in range(FEATURES):
            tag = f"area{index // 10}.feature{index}"
            await client.post(
                "/api/v1/cost/features", json={"tag": tag, "display_name": tag}, headers=headers
            )
        ingested, ingest_seconds = await ingest(client, args.ingest_batches, rng)
        console.print(
            f"ingest: {ingested:,} records in {ingest_seconds:.1f} s ({ingested / ingest_seconds:,.0f}/s)"
        )
        http_figures = await http_ingest(args, database_url, rng)
        if args.ingest_only:
            await conn.close()
            return
        await conn.execute(
            "ANALYZE cost_intel.cost_rollups_hourly; ANALYZE cost_intel.cost_rollups_daily; ANALYZE cost_intel.cost_rollups_dim"
        )
        queries = [
            (
                "dashboard 30d",
                "/api/v1/cost/dashboard?period=30d",
                30,
                ("feature_tag", "user_id", "model"),
            ),
            ("by-user 7d", "/api/v1/cost/by-user?period=7d", 7, ("user_id",)),
            ("summary 24h", "/api/v1/cost/summary?period=24h", 1, ()),
        ]
        for name, url, days, dims in queries:
            http = await time_calls(client, url, args.runs)
            http_p95[name] = percentile(http, 95)
            rollup_sql = await time_sql(conn, "rollups", days, dims, args.runs)
            wide_sql = await time_sql(conn, "wide", days, dims, args.raw_runs)
            raw_sql = await time_sql(conn, "raw", days, dims, args.raw_runs)
            results += [
                row(name, "HTTP (per-dimension rollups)", http),
                row(name, "SQL on per-dimension rollups", rollup_sql),
                row(name, "SQL on wide hourly+daily rollups", wide_sql),
                row(name, "SQL on raw cost_records", raw_sql),
            ]
            console.print(*results[-4:], sep="\n")
    load = os.getloadavg()[0]
    if records >= args.records:
        size_note = f"Full size: all {args.records:,} requested records were generated."
    else:
        size_note = (
            f"**Scaled down**: {args.records:,} were requested; this box generated what fitted in "
            f"{args.max_seconds:g} s, and no figure below is extrapolated to the requested size."
        )
    table_rows = "\n".join(results)
    verdicts = "; ".join(
        f"{name} p95 {value:,.1f} ms ({'met' if value < 100 else 'NOT met'})"
        for name, value in http_p95.items()
    )
    rate = ingested / ingest_seconds
    best = max(http_figures, key=lambda f: f.rate, default=None)
    if best is None:
        served = "not measured under uvicorn (--http-workers 0)"
    else:
        served = (
            f"{best.rate:,.0f}/s under uvicorn with {best.workers} worker(s) and "
            f"{best.concurrency} calls in flight "
            f"({'met' if best.rate >= 50_000 else 'NOT met'})"
        )
    verdict = (
        f"Targets of issue 5 through HTTP: p95 < 100 ms from rollups — {verdicts}; batch ingest "
        f">= 50,000 records/s — {served}; one call at a time in-process {rate:,.0f}/s "
        f"({'met' if rate >= 50_000 else 'NOT met'})."
    )
    http_rows = "\n".join(f.row() for f in http_figures)
    write_performance_section(f"""## {SECTION}

Command: `uv run python bench/cost_queries.py --records {args.records} --max-seconds {args.max_seconds:g} --ingest-batches {args.ingest_batches} --runs {args.runs} --raw-runs {args.raw_runs} --http-workers {",".join(map(str, args.http_workers)) or 0} --http-concurrency {",".join(map(str, args.http_concurrency))} --http-batches {args.http_batches}`
(machine: {platform.machine()}, {os.cpu_count()} cores shared with other work, Python {platform.python_version()},
PostgreSQL local; load average {load:.1f} when it finished; {datetime.now(UTC).date().isoformat()}).

Data: one tenant, {records:,} cost records over 30 days (1,000 users with Zipf-like activity, each
in 2 of 50 features, each feature on 2 of 20 models), generated by COPY into cost_records at
{records / copy_seconds:,.0f} records/s. {size_note}
Rollups built from them in SQL in {rollup_seconds:.1f} s: {counts["cost_rollups_hourly"]:,} wide hourly
rows, {counts["cost_rollups_daily"]:,} wide daily rows, {counts["cost_rollups_dim"]:,} per-dimension rows.

Batch ingestion through the API (POST /api/v1/cost/records/batch, 10,000 records per call, priced
from the price book, request-id claims, COPY, wide and per-dimension rollup upserts, one transaction per
call; in-process ASGI, JSON body pre-encoded): **{ingested:,} records in {ingest_seconds:.1f} s =
{ingested / ingest_seconds:,.0f} records/s** (target 50,000/s).

The same calls as production serves them: the service under uvicorn in its own process(es), this
bench posting pre-encoded 10,000-record bodies over HTTP from its own process with N calls in
flight, all for the one tenant of {records:,} records (the hard case: concurrent batches upsert the
same recent rollup rows, so their rollup phases queue on those row locks). CPU columns are CPU
seconds per record over the run: uvicorn and its workers, the PostgreSQL backends of the bench
database, and the load generator.

| workers | in flight | records | seconds | records/s | service CPU | PostgreSQL CPU | client CPU | all CPU |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{http_rows}

Query latency in milliseconds. "HTTP" is the full route in-process (auth context, SQL, JSON);
"SQL on per-dimension rollups" is the route's aggregation alone (cost_rollups_dim: one row per
tenant, dimension, hour or day, key); "wide" is the same from the (tenant, bucket, feature, user,
model) rollups; "raw" is the same aggregation (GROUPING SETS, same window) over cost_records.

| query | source | runs | p50 ms | p95 ms | max ms |
|---|---|---:|---:|---:|---:|
{table_rows}

{verdict}
""")
    await conn.close()


def counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip() and int(part) > 0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--ingest-batches", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--raw-runs", type=int, default=5)
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="stop after the ingest measurement; print it, do not write docs/PERFORMANCE.md",
    )
    parser.add_argument(
        "--database-url", default=None, help="server to create the bench database on"
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--http-workers",
        type=counts,
        default=[2],
        help="uvicorn worker counts to measure, comma-separated (0 skips the HTTP runs)",
    )
    parser.add_argument(
        "--http-concurrency", type=counts, default=[2, 4], help="calls in flight, comma-separated"
    )
    parser.add_argument("--http-batches", type=int, default=20, help="10,000-record calls per run")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    server = (
        args.database_url
        or os.environ.get("AOS_BENCH_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )
    database_url = create_database(server, "aos_bench_cost")
    console.print(f"database: {database_url.rsplit('/', 1)[-1]}")
    try:
        migrate("aos_cost_intel", database_url)
        asyncio.run(run(args, database_url))
    finally:
        if args.keep:
            console.print(f"kept {database_url.rsplit('/', 1)[-1]}")
        else:
            drop_database(database_url)


if __name__ == "__main__":
    main()
