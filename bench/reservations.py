"""Budget reservations benchmark: reserve and settle per second, latency percentiles and CPU.

cost-intel runs under uvicorn (--workers, default 2); the load comes from wrk (Debian package
`wrk`, required), one or two wrk processes of one thread each (bench/reservations_wrk.py,
bench/reservations.lua), over HTTP with signed contexts (no gateway, no API-key lookup):

a. distinct, reserve only, saturating: --callers connections reserving 1 cent over 1,000 tenants
   (a hard budget each), each sending its next call as soon as it has the answer;
b. contended, reserve + settle, saturating: two wrk processes at once on ONE tenant budget, half
   the callers reserving, half settling (1 cent) holds made beforehand, each hold settled once;
c. contended, reserve + settle, paced: as b, but the callers of each process share a schedule of
   a fixed rate, --paced-repeats runs per rate of --paced-rates (c1a, c1b, ..., c2a, ...): the
   latency at a stated load and its spread between runs (issue 15's p99 target is read here; at
   saturation a closed loop's latency is just callers / throughput, Little's law);
d. distinct, reserve + settle, saturating: as b, over the 1,000 budgets;
e. the old path, distinct, saturating: as d, but the check-then-record calls reservations
   replace (POST /api/v1/cost/guard, POST /api/v1/cost/record), for a ratio measured in the
   same run (d against e) that does not depend on the machine's speed as the rates do.

Every scenario gets a fresh database and a fresh service, so none inherits another's rows.
Targets (issue 15): >= 5,000 reserve/s on 1,000 distinct budgets (a), p99 <= 10 ms on one
contended budget with 50 concurrent callers, reserve + settle (c).
Writes the "reservations" section of docs/PERFORMANCE.md (unless --no-write).

    uv run python bench/reservations.py [--seconds 20] [--callers 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import httpx
import psutil
from _support import (
    CpuMeter,
    free_port,
    reference_loop_ms,
    start_uvicorn,
    write_performance_section,
)
from load_generators import Run, children_cpu_seconds
from reservations_report import Result, Scenario, render
from reservations_wrk import (
    Side,
    holds_needed,
    make_holds,
    require_wrk,
    run_sides,
    signed_headers,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from aos_common.testing.support import create_database, drop_database, migrate

SECRET = "bench-internal-secret-" + secrets.token_hex(8)
CONTENDED = "tnt_benchres_one"
DISTINCT = [f"tnt_benchres_{i:04d}" for i in range(1_000)]
SCENARIOS = [
    Scenario("a", "distinct: 1,000 budgets, reserve only, saturating", True, False, False),
    Scenario("b", "contended: one budget, reserve + settle, saturating", False, True, False),
    Scenario("c", "contended: one budget, reserve + settle, paced", False, True, True),
    Scenario("d", "distinct: 1,000 budgets, reserve + settle, saturating", True, True, False),
    Scenario(
        "e",
        "old path: 1,000 budgets, guard + record, saturating",
        True,
        False,
        False,
        old_path=True,
    ),
]
PHASES = ("database and service", "budgets", "holds", "warm-up", "run")
console = Console()


@dataclass(frozen=True)
class Plan:
    """The wrk processes of a scenario and the tenants their calls go to."""

    tenants: list[str]
    sides: list[Side]


def paced_runs(scenario: Scenario, rates: list[float], repeats: int) -> list[Scenario]:
    """Scenario c `repeats` times per offered rate: c1, c2, ... (latency at each stated load),
    c1a, c1b, ... when repeated (its spread between runs)."""
    return [
        replace(
            scenario,
            key=f"{scenario.key}{index}{chr(ord('a') + run) if repeats > 1 else ''}",
            rate=rate,
            repeat=run + 1 if repeats > 1 else 0,
        )
        for index, rate in enumerate(rates, start=1)
        for run in range(repeats)
    ]


def plan(args: argparse.Namespace, scenario: Scenario) -> Plan:
    tenants = DISTINCT if scenario.distinct else [CONTENDED]
    if scenario.old_path:
        checking = args.callers // 2
        return Plan(
            tenants, [Side("guard", checking, 0), Side("record", args.callers - checking, 0)]
        )
    if not scenario.settle:
        return Plan(tenants, [Side("reserve", args.callers, 0)])
    rate = scenario.rate if scenario.paced else 0
    reserving = args.callers // 2
    return Plan(
        tenants,
        [Side("reserve", reserving, rate), Side("settle", args.callers - reserving, rate)],
    )


async def create_budgets(url: str, tenants: list[str]) -> None:
    """A hard daily tenant budget for every tenant of every scenario (the same tables each
    time), through the API as a client would, with a limit no run can reach."""
    body = {"budget_type": "tenant", "daily_limit_cents": "1e12", "hard_limit_enabled": True}
    headers = signed_headers(tenants, SECRET)
    semaphore = asyncio.Semaphore(20)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def one(signed: dict[str, str]) -> None:
            async with semaphore:
                for attempt in range(3):
                    try:
                        response = await http.post(
                            "/api/v1/cost/budgets", json=body, headers=signed
                        )
                    except httpx.TransportError:  # an idle connection the server closed
                        if attempt == 2:
                            raise
                        continue
                    response.raise_for_status()
                    return

        await asyncio.gather(*(one(signed) for signed in headers))


async def empty_outbox(database_url: str) -> None:
    """Every budget upsert queued an audit entry; with no audit-ledger running, the outbox relay
    would keep retrying them during the runs, background CPU that is not the reservations'."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("DELETE FROM cost_intel.outbox")
    finally:
        await connection.close()


async def vacuum_analyze(database_url: str) -> None:
    """VACUUM (ANALYZE) the bench database once its budgets and holds are in: left to
    autovacuum, the fresh tables' first vacuum and analyze fell inside the measured run (tens
    of thousands of holds inserted just before it), a burst of CPU on the 2 cores that some
    runs got and others did not."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


def with_holds(sides: list[Side], holds: list[tuple[str, int]]) -> list[Side]:
    return [Side(s.mode, s.connections, s.rate, holds) if s.mode == "settle" else s for s in sides]


def run_scenario(
    args: argparse.Namespace, scenario: Scenario, server_url: str, step: Progress, task: TaskID
) -> Result:
    def phase(name: str) -> None:
        step.update(task, description=f"{scenario.key}. {name}")

    chosen = plan(args, scenario)
    phase(PHASES[0])
    database_url = create_database(server_url, "aos_bench_reservations")
    workdir = Path(tempfile.mkdtemp(prefix="aos-bench-reservations-"))
    server = None
    try:
        migrate("aos_cost_intel", database_url)
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
        log = workdir / "cost-intel.log"
        server = start_uvicorn(
            "aos_cost_intel.main:create_app", env, port, args.workers, "cost-intel", log=log
        )
        url = f"http://127.0.0.1:{port}"
        step.advance(task)
        phase(PHASES[1])
        asyncio.run(create_budgets(url, [CONTENDED, *DISTINCT]))
        asyncio.run(empty_outbox(database_url))
        step.advance(task)
        phase(PHASES[2])
        warm_holds = run_holds = 0
        settling = [side for side in chosen.sides if side.mode == "settle"]
        if settling:
            warm_holds = holds_needed(args.warmup, settling[0], args.max_settle_rate)
            run_holds = holds_needed(args.seconds, settling[0], args.max_settle_rate)
        count = len(chosen.tenants)
        began = time.monotonic()
        holds = asyncio.run(
            make_holds(database_url, chosen.tenants, warm_holds + run_holds, lambda i: i % count)
        )
        if holds:
            step.console.log(
                f"{scenario.key}. {len(holds):,} holds in {time.monotonic() - began:.1f} s"
            )
        asyncio.run(vacuum_analyze(database_url))
        step.advance(task)
        phase(PHASES[3])
        sides = with_holds(chosen.sides, holds[:warm_holds])
        run_sides(url, args.warmup, sides, chosen.tenants, SECRET, workdir)
        step.advance(task)
        phase(PHASES[4])
        meter = CpuMeter(server.pid, database_url.rsplit("/", 1)[-1])
        service, postgres, _ = meter.read()
        wrk = children_cpu_seconds()
        sides = with_holds(chosen.sides, holds[warm_holds:])
        runs = run_sides(url, args.seconds, sides, chosen.tenants, SECRET, workdir)
        after_service, after_postgres, _ = meter.read()
        cpu = {
            "service": after_service - service,
            "postgres": after_postgres - postgres,
            "wrk": children_cpu_seconds() - wrk,
        }
        step.advance(task)
    except BaseException:
        console.print(f"{scenario.key}: the service log and wrk scripts are kept in {workdir}")
        raise
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_database(database_url)
    shutil.rmtree(workdir)  # kept (service log, wrk scripts) only when the scenario failed
    settle: Run | None = runs[1] if len(runs) > 1 else None
    return Result(scenario, sides, runs[0], settle, cpu, run_holds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20, help="per run (whole, <= 50)")
    parser.add_argument("--warmup", type=float, default=1, help="per scenario, not measured")
    parser.add_argument("--callers", type=int, default=50, help="wrk connections in all")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument(
        "--paced-rates",
        default="100,250,500",
        help="c: reserves/s offered (and as many settles/s), --paced-repeats runs per rate",
    )
    parser.add_argument("--paced-repeats", type=int, default=3, help="c: runs per rate")
    parser.add_argument(
        "--max-settle-rate",
        type=float,
        default=6_000,
        help="settles/s a saturating run could reach: holds are made for that many",
    )
    parser.add_argument("--scenarios", default="abcde", help="which to run (writes only all)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--redis-url", default=os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    args.seconds = max(1, math.ceil(args.seconds))  # wrk runs whole seconds
    args.warmup = max(1, math.ceil(args.warmup))
    if args.paced_repeats < 1:
        parser.error("--paced-repeats must be at least 1")
    if args.seconds > 50:
        parser.error("--seconds must be <= 50: the signed contexts are valid for 60 s")
    require_wrk()
    server_url = (
        args.database_url
        or os.environ.get("AOS_BENCH_DATABASE_URL")
        or os.environ.get("AOS_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )
    rates = [float(rate) for rate in args.paced_rates.split(",") if rate.strip()]
    chosen = [
        each
        for scenario in SCENARIOS
        if scenario.key in args.scenarios
        for each in (
            paced_runs(scenario, rates, args.paced_repeats) if scenario.paced else [scenario]
        )
    ]
    command = (  # every option the figures depend on, defaults included
        f"uv run python bench/reservations.py --seconds {args.seconds} --callers {args.callers} "
        f"--workers {args.workers} --paced-rates {','.join(f'{rate:g}' for rate in rates)} "
        f"--paced-repeats {args.paced_repeats}"
    )
    load = psutil.getloadavg()
    reference_ms = reference_loop_ms()
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("reservations", total=len(chosen) * len(PHASES))
        for scenario in chosen:
            results.append(run_scenario(args, scenario, server_url, progress, task))
    section = render(args, command, results, load, reference_ms)
    print(section)
    if args.no_write or len({result.scenario.key[0] for result in results}) < len(SCENARIOS):
        return
    write_performance_section(section)
    console.print("wrote the reservations section of docs/PERFORMANCE.md")


if __name__ == "__main__":
    main()
