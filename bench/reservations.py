"""Budget reservations benchmark: reserve + settle per second and latency percentiles.

cost-intel runs under uvicorn in its own process (--workers); this process is the load
generator: --callers concurrent callers (default 50), each looping reserve (1 cent) then settle
(1 cent) for --seconds, over HTTP with signed contexts (no gateway, no API-key lookup).

1. contended: every caller reserves against the same hard tenant budget (the reservations of
   one worker are group committed, one statement per batch; batches, settles and the other
   worker queue on that budget's row lock);
2. distinct: 1,000 tenants with a hard budget each, callers spread over them;
3. distinct, reserve only (holds never settled): the authorize path alone.

Targets (issue 15): >= 5,000 reserve/s on distinct budgets, p99 <= 10 ms on the contended one.
Writes the "reservations" section of docs/PERFORMANCE.md.

    uv run python bench/reservations.py [--seconds 20] [--callers 50] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from _support import CpuMeter, free_port, start_uvicorn, write_performance_section

from aos_common.auth import Principal, sign_context
from aos_common.testing.support import create_database, drop_database, migrate

SECTION = "reservations"
SECRET = "bench-internal-secret-" + secrets.token_hex(8)
RESERVE = "/api/v1/cost/reservations"
DISTINCT_BUDGETS = 1_000
SIGN_EVERY_SECONDS = 20.0


class Signer:
    """Signed admin contexts per tenant, renewed before their minute runs out."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def __call__(self, tenant: str) -> dict[str, str]:
        now = time.monotonic()
        cached = self._cache.get(tenant)
        if cached is None or now - cached[0] > SIGN_EVERY_SECONDS:
            principal = Principal(
                tenant_id=tenant,
                principal_id="bench",
                principal_type="user",
                roles=["admin"],
                permissions=[],
            )
            cached = (now, sign_context(principal, SECRET))
            self._cache[tenant] = cached
        return cached[1]


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    reserve_ms: list[float] = field(default_factory=list)
    settle_ms: list[float] = field(default_factory=list)
    refused: int = 0
    errors: int = 0
    service_cpu: float = 0.0
    postgres_cpu: float = 0.0

    def cpu_ms(self) -> str:
        """Service and PostgreSQL CPU per reserve (with its settle when there is one): what a
        reservation costs whatever else the machine is doing."""
        calls = len(self.reserve_ms)
        if not calls:
            return "—"
        return f"{self.service_cpu / calls * 1000:.1f} / {self.postgres_cpu / calls * 1000:.1f}"

    def rate(self) -> float:
        return len(self.reserve_ms) / self.seconds if self.seconds else 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def setup_budgets(http: httpx.AsyncClient, sign: Signer, tenants: list[str]) -> None:
    body = {"budget_type": "tenant", "daily_limit_cents": "1e12", "hard_limit_enabled": True}
    semaphore = asyncio.Semaphore(20)

    async def one(tenant: str) -> None:
        async with semaphore:
            for attempt in range(3):
                try:
                    response = await http.post(
                        "/api/v1/cost/budgets", json=body, headers=sign(tenant)
                    )
                except httpx.TransportError:  # an idle connection the server closed
                    if attempt == 2:
                        raise
                    continue
                response.raise_for_status()
                return

    await asyncio.gather(*(one(tenant) for tenant in tenants))


async def drive(
    http: httpx.AsyncClient,
    sign: Signer,
    run: Run,
    pick: Callable[[int, int], str],
    callers: int,
    seconds: float,
    settle: bool,
) -> None:
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def caller(index: int) -> None:
        turn = 0
        while time.perf_counter() < deadline:
            tenant = pick(index, turn)
            turn += 1
            begin = time.perf_counter()
            try:
                response = await http.post(
                    RESERVE, json={"estimated_cost_cents": "1"}, headers=sign(tenant)
                )
            except httpx.TransportError:
                run.errors += 1
                continue
            run.reserve_ms.append((time.perf_counter() - begin) * 1000)
            if response.status_code == 402:
                run.refused += 1
                continue
            if response.status_code != 201:
                run.errors += 1
                continue
            if not settle:
                continue
            begin = time.perf_counter()
            try:
                settled = await http.post(
                    f"{RESERVE}/{response.json()['id']}/settle",
                    json={"actual_cost_cents": "1"},
                    headers=sign(tenant),
                )
            except httpx.TransportError:
                run.errors += 1
                continue
            run.settle_ms.append((time.perf_counter() - begin) * 1000)
            if settled.status_code != 200:
                run.errors += 1

    await asyncio.gather(*(caller(i) for i in range(callers)))
    run.seconds = time.perf_counter() - started


def row(run: Run) -> str:
    settle = (
        f"{pct(run.settle_ms, 50):.1f} / {pct(run.settle_ms, 99):.1f}" if run.settle_ms else "—"
    )
    pairs = f"{len(run.settle_ms) / run.seconds:,.0f}" if run.settle_ms else "—"
    return (
        f"| {run.name} | {run.rate():,.0f} | {pairs} | {pct(run.reserve_ms, 50):.1f} / "
        f"{pct(run.reserve_ms, 99):.1f} | {settle} | {run.cpu_ms()} | {run.errors} |"
    )


async def metered(meter: CpuMeter, run: Run, work: Any) -> None:
    service, postgres, _ = meter.read()
    await work
    after_service, after_postgres, _ = meter.read()
    run.service_cpu, run.postgres_cpu = after_service - service, after_postgres - postgres


async def measure(args: argparse.Namespace, url: str, meter: CpuMeter) -> list[Run]:
    sign = Signer()
    limits = httpx.Limits(max_connections=args.callers, max_keepalive_connections=args.callers)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        contended = "tnt_benchres_one"
        distinct = [f"tnt_benchres_{i:04d}" for i in range(DISTINCT_BUDGETS)]
        await setup_budgets(http, sign, [contended, *distinct])
        warm = Run("warm-up")
        await drive(http, sign, warm, lambda i, t: contended, args.callers, 2, True)
        runs = [
            Run("contended: one budget, reserve + settle"),
            Run(f"distinct: {DISTINCT_BUDGETS:,} budgets, reserve + settle"),
            Run(f"distinct: {DISTINCT_BUDGETS:,} budgets, reserve only"),
        ]
        spread = lambda i, t: distinct[(i * 7919 + t * args.callers) % DISTINCT_BUDGETS]  # noqa: E731
        one = lambda i, t: contended  # noqa: E731
        await metered(
            meter, runs[0], drive(http, sign, runs[0], one, args.callers, args.seconds, True)
        )
        await metered(
            meter, runs[1], drive(http, sign, runs[1], spread, args.callers, args.seconds, True)
        )
        await metered(
            meter, runs[2], drive(http, sign, runs[2], spread, args.callers, args.seconds, False)
        )
    return runs


def report(args: argparse.Namespace, runs: list[Run], load: tuple[float, float, float]) -> str:
    contended, distinct, reserve_only = runs
    lines = [
        f"## {SECTION}",
        "",
        "Budget reservations (issue 15): cost-intel under uvicorn "
        f"({args.workers} worker{'s' if args.workers > 1 else ''}), {args.callers} concurrent "
        f"callers in one load-generator process on the same machine, {args.seconds:.0f} s per "
        "run, over HTTP with signed contexts. Each caller loops reserve 1 cent then settle "
        "1 cent (reserve only in the last row). Latencies in ms (p50 / p99) as the caller sees "
        "them.",
        "",
        f"Command: `uv run python bench/reservations.py --seconds {args.seconds:.0f} "
        f"--callers {args.callers} --workers {args.workers}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}; load average at start {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f} (1 / 5 / 15 min; the machine was shared).",
        "",
        "| run | reserve/s | reserve+settle pairs/s | reserve p50 / p99 | settle p50 / p99 | "
        "CPU ms per reserve (service / PostgreSQL) | errors |",
        "|---|---|---|---|---|---|---|",
        *(row(run) for run in runs),
        "",
        f"Targets: >= 5,000 reserve/s on distinct budgets — measured {reserve_only.rate():,.0f} "
        f"reserve/s (reserve only), {distinct.rate():,.0f} with settles: "
        f"{'met' if reserve_only.rate() >= 5000 else 'NOT met'}. p99 <= 10 ms on the contended "
        f"budget — measured {pct(contended.reserve_ms, 99):.1f} ms for reserve: "
        f"{'met' if pct(contended.reserve_ms, 99) <= 10 else 'NOT met'}.",
        "",
        "Reading the figures: the wall-clock rates and latencies depend on what else the "
        "machine runs (see the load average); even on a quiet machine the service, PostgreSQL "
        "and the Python load generator share two cores, and the rates stay far below what the "
        "CPU per reserve alone would allow, so the limit is not yet explained by CPU. The "
        "CPU per reserve does not depend on that load (the PostgreSQL column is approximate: "
        "it sums the bench database's live backends, and one that exits between two readings "
        "takes its CPU with it, which can even make it negative). Reservations are group "
        "committed: the ones a worker is asked for at about the same time are decided by one "
        "SQL statement (`cost_intel.reserve_holds`) outside any transaction, which locks each "
        "budget of the batch once and decides the reservations in arrival order, so a "
        "contended budget pays one lock and one commit per batch; settles and releases of a "
        "tenant are batched the same way, in one transaction whose last statement "
        "(`cost_intel.close_holds`) locks the budget rows until its commit.",
    ]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace, database_url: str) -> None:
    env = {
        **os.environ,
        "AOS_DATABASE_URL": database_url,
        "AOS_REDIS_URL": args.redis_url,
        "AOS_ENVIRONMENT": "test",
        "AOS_TELEMETRY_ENABLED": "false",
        "AOS_INTERNAL_SECRET": SECRET,
        "AOS_DETECTOR_INTERVAL_SECONDS": "0",
        "AOS_ALERT_INTERVAL_SECONDS": "0",
        "AOS_OUTBOX_INTERVAL_SECONDS": "3600",
        "AOS_DATABASE_POOL_SIZE": "20",
    }
    port = free_port()
    log = Path(tempfile.gettempdir()) / "aos-bench-reservations.log"
    server = start_uvicorn(
        "aos_cost_intel.main:create_app", env, port, args.workers, "cost-intel", log=log
    )
    load = psutil.getloadavg()
    try:
        meter = CpuMeter(server.pid, database_url.rsplit("/", 1)[-1].split("?")[0])
        runs = await measure(args, f"http://127.0.0.1:{port}", meter)
    finally:
        server.terminate()
        server.wait(timeout=30)
    section = report(args, runs, load)
    print(section)
    for item in runs:
        print(item.name, "median reserve", statistics.median(item.reserve_ms), "ms")
    if not args.no_write:
        write_performance_section(section)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--redis-url", default=os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    server = (
        args.database_url
        or os.environ.get("AOS_BENCH_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )
    database_url = create_database(server, "aos_bench_reservations")
    try:
        migrate("aos_cost_intel", database_url)
        asyncio.run(run(args, database_url))
    finally:
        drop_database(database_url)


if __name__ == "__main__":
    main()
