"""What the gateway costs: the same request sent straight to the tenants service and through the
gateway, interleaved in one run, from a load generator running in a second process.

Three requests are measured:
- `GET /api/v1/tenant/health` (public route: headers/CORS, a Redis token bucket, retry) — the
  proxy's own overhead;
- `GET /api/v1/tenant` with an API key (the full `api` chain: forward-auth to the tenants service,
  its grant cached for the default `AOS_AUTH_CACHE_SECONDS=2` with every request served from the
  cache metered in Redis and reported to the tenants service, the tenant's Redis token bucket,
  inFlightReq, buffering, circuit breaker, retry). Direct, the tenants service resolves the key
  itself (cached 5 s, as every service caches its verifications);
- the same keyed request through a second gateway with `AOS_AUTH_CACHE_SECONDS=0` (a forward-auth
  round trip on every request, as behind real Traefik), for comparison.

Latency: sequential requests (one connection each way, keep-alive), rounds alternating direct and
gateway, p50/p99 per side and their difference. Throughput: a fixed number of concurrent clients for
a fixed time, alternating sides, requests per second and the gateway/direct ratio.

The load generator is wrk when it is installed (`apt install wrk`), else an httpx client in a
spawned process (bench/load_generators.py). wrk costs a few µs of CPU per request; the httpx client
costs more than the tenants service itself, so with it the two cores mostly measure how three
processes share them. `--generator httpx` keeps the old measurement.

The gateway runs the shipped gateway/dynamic.yml with its rate limits raised (the token buckets are
still taken in Redis on every request, they just never run dry) so the benchmark measures cost, not
throttling. Real Postgres and Redis: AOS_TEST_DATABASE_URL / AOS_TEST_REDIS_URL (a scratch database
is created and dropped).

    uv run python bench/gateway_overhead.py [--rounds 6 --seconds 2 --concurrency 8 --generator wrk]

Writes the "gateway_overhead" section of docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import load_generators
from _support import (
    free_port,
    process_cpu_seconds,
    redis_server_pid,
    start_uvicorn,
    write_performance_section,
)
from gateway_overhead_report import chart, render, summary
from load_generators import percentile
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE = ROOT / "docs" / "PERFORMANCE.md"
DOCUMENT = ROOT / "gateway" / "dynamic.yml"
OPERATOR_KEY = "aos_op_" + "b" * 40
SECRET = "bench-gateway-internal-secret-0123456789"
console = Console()


def bench_document(path: Path) -> None:
    """The shipped document with its token buckets made too deep to run dry."""
    text = DOCUMENT.read_text()
    text = re.sub(r"average: \d+", "average: 1000000", text)
    text = re.sub(r"burst: \d+", "burst: 1000000", text)
    text = re.sub(r"amount: \d+", "amount: 100000", text)
    # A service slowed down by the benchmark itself must not be taken out of rotation.
    text = text.replace("interval: 5s, timeout: 2s", "interval: 5s, timeout: 30s")
    path.write_text(text)


# --- orchestration ------------------------------------------------------------------------------


def gateway_served(gateway_url: str) -> int:
    """Requests the gateway has proxied so far (its aos_gateway_requests_total, all labels): the
    count the tenants service must meter when only keyed requests went through since the last
    reading. wrk stops with requests in flight that it does not count, so the gateway's own
    count, not the client's, is the one to check metering against."""
    text = httpx.get(gateway_url + "/metrics", timeout=30).text
    return round(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "aos_gateway_requests"
            for sample in family.samples
            if sample.name == "aos_gateway_requests_total"
        )
    )


def create_tenant(gateway_url: str) -> str:
    response = httpx.post(
        gateway_url + "/api/v1/tenants",
        json={"name": f"bench-{secrets.token_hex(3)}"},
        headers={"X-AOS-Key": OPERATOR_KEY},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["initial_api_key"]["key"])


def measure(
    args: argparse.Namespace,
    direct: str,
    tenants_pid: int,
    gateways: dict[str, tuple[str, int]],
    key: str,
    redis_pid: int,
) -> tuple[list[dict[str, Any]], int]:
    """The figures per case, and how many keyed requests the gateways served (the ones the
    tenants service must meter as api_calls)."""
    generator = load_generators.start(args.generator)
    keyed = {"X-AOS-Key": key}
    cases = [  # label, short name (charts), path, headers, gateway
        ("GET /api/v1/tenant/health", "health", "/api/v1/tenant/health", {}, gateways["default"]),
        ("GET /api/v1/tenant (API key)", "API key", "/api/v1/tenant", keyed, gateways["default"]),
        (
            "GET /api/v1/tenant (API key, AOS_AUTH_CACHE_SECONDS=0)",
            "API key, no grant cache",
            "/api/v1/tenant",
            keyed,
            gateways["uncached"],
        ),
    ]
    rows = []
    keyed_through_gateway = 0
    total = len(cases) * (args.rounds * 2 + args.throughput_rounds * 2)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"interleaved rounds ({generator.name})", total=total)
        for label, short, path, headers, (gateway, gateway_pid) in cases:
            served_before = gateway_served(gateway)
            latency: dict[str, collections.Counter[int]] = {
                "direct": collections.Counter(),
                "gateway": collections.Counter(),
            }
            rates: dict[str, list[float]] = {"direct": [], "gateway": []}
            errors = {"direct": 0, "gateway": 0}
            meters = {"service": tenants_pid, "gateway": gateway_pid, "redis": redis_pid}
            cpu = {side: dict.fromkeys([*meters, "load generator"], 0.0) for side in rates}
            served = {"direct": 0, "gateway": 0}
            for round_index in range(args.rounds):
                for side in _order(round_index):
                    base = direct if side == "direct" else gateway
                    run = generator.latency(
                        base + path, headers, args.latency_seconds, args.per_round
                    )
                    latency[side].update(run.latency_us)
                    errors[side] += run.failed
                    progress.advance(task)
            for round_index in range(args.throughput_rounds):
                for side in _order(round_index):
                    base = direct if side == "direct" else gateway
                    before = {name: process_cpu_seconds(pid) for name, pid in meters.items()}
                    before["load generator"] = generator.cpu_seconds()
                    run = generator.throughput(base + path, headers, args.seconds, args.concurrency)
                    for name, pid in meters.items():
                        cpu[side][name] += process_cpu_seconds(pid) - before[name]
                    cpu[side]["load generator"] += (
                        generator.cpu_seconds() - before["load generator"]
                    )
                    served[side] += run.served
                    rates[side].append(run.rate)
                    errors[side] += run.failed
                    progress.advance(task)
            if headers:
                keyed_through_gateway += gateway_served(gateway) - served_before
            direct_rate = statistics.median(rates["direct"])
            gateway_rate = statistics.median(rates["gateway"])
            rows.append(
                {
                    "label": label,
                    "short": short,
                    "samples": sum(latency["direct"].values()),
                    "d50": percentile(latency["direct"], 0.5),
                    "g50": percentile(latency["gateway"], 0.5),
                    "d99": percentile(latency["direct"], 0.99),
                    "g99": percentile(latency["gateway"], 0.99),
                    "direct_rps": direct_rate,
                    "gateway_rps": gateway_rate,
                    # Each round's two runs are back to back: their ratio is not moved by the
                    # machine's speed drifting over minutes, which the medians of each side are.
                    "paired_ratio": statistics.median(
                        gateway_run / direct_run
                        for direct_run, gateway_run in zip(
                            rates["direct"], rates["gateway"], strict=True
                        )
                    ),
                    "errors": errors["direct"] + errors["gateway"],
                    "cpu_ms": {
                        side: {
                            name: seconds / max(served[side], 1) * 1000
                            for name, seconds in cpu[side].items()
                        }
                        for side in cpu
                    },
                    "redis_measured": redis_pid != 0,
                }
            )
    generator.close()
    return rows, keyed_through_gateway


def _order(round_index: int) -> tuple[str, str]:
    return ("direct", "gateway") if round_index % 2 == 0 else ("gateway", "direct")


def metered_api_calls(direct: str, key: str, expected: int, wait: float = 15.0) -> int:
    """The tenant's api_calls, read from the tenants service directly (a direct call is not
    metered), once the gateways' usage reports and the write-back have caught up."""
    deadline = time.monotonic() + wait
    while True:
        response = httpx.get(
            direct + "/api/v1/tenant/usage?period=24h", headers={"X-AOS-Key": key}, timeout=30
        )
        response.raise_for_status()
        metered = int(response.json()["meters"]["api_calls"]["total"])
        if metered >= expected or time.monotonic() > deadline:
            time.sleep(2.5)  # anything counted twice would show up by now
            final = httpx.get(
                direct + "/api/v1/tenant/usage?period=24h", headers={"X-AOS-Key": key}, timeout=30
            )
            return int(final.json()["meters"]["api_calls"]["total"])
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--generator",
        choices=["wrk", "httpx"],
        default=load_generators.available()[0],
        help="load generator (default: wrk when installed, else httpx)",
    )
    parser.add_argument(
        "--per-round", type=int, default=150, help="httpx: sequential requests per latency round"
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=1.0,
        help="wrk: length of a latency round (wrk rounds every length up to whole seconds)",
    )
    parser.add_argument("--throughput-rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.generator == "wrk":  # wrk runs whole seconds: report the lengths it will run
        args.seconds = max(1, math.ceil(args.seconds))
        args.latency_seconds = max(1, math.ceil(args.latency_seconds))
    command = "uv run python bench/gateway_overhead.py " + " ".join(sys.argv[1:])
    if "--generator" not in sys.argv:
        command += f" --generator {args.generator}"  # the default depends on the machine

    sys.path.insert(0, str(ROOT / "libs" / "common"))
    from aos_common.testing import create_database, drop_database, migrate

    server = os.environ.get("AOS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    database_url = create_database(server, prefix="aos_bench_gw")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with console.status("migrating and starting tenants + gateway"):
            migrate("aos_tenants", database_url)
            workdir = Path(tempfile.mkdtemp(prefix="aos-bench-gw-"))
            document = workdir / "dynamic.yml"
            bench_document(document)
            tenants_port, gateway_port = free_port(), free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AOS_", "OTEL_"))}
            env.update(
                {
                    "AOS_ENVIRONMENT": "test",
                    "AOS_DATABASE_URL": database_url,
                    "AOS_REDIS_URL": redis_url,
                    "AOS_INTERNAL_SECRET": SECRET,
                    "AOS_OPERATOR_KEY": OPERATOR_KEY,
                    "AOS_TELEMETRY_ENABLED": "false",
                    "AOS_DATA_DIR": str(workdir),
                    "AOS_TENANTS_URL": f"http://127.0.0.1:{tenants_port}",
                    "AOS_GATEWAY_CONFIG": str(document),
                    "AOS_GATEWAY_RELOAD_SECONDS": "0",
                    "AOS_GATEWAY_REDIS_PREFIX": f"aos:gwbench:{secrets.token_hex(4)}",
                }
            )
            processes.append(
                start_uvicorn(
                    "aos_tenants.main:create_app",
                    env,
                    tenants_port,
                    1,
                    "tenants",
                    log=workdir / "tenants.log",
                )
            )
            direct, gateway = f"http://127.0.0.1:{tenants_port}", f"http://127.0.0.1:{gateway_port}"
            processes.append(
                start_uvicorn(
                    "aos_gateway.main:create_app",
                    env,
                    gateway_port,
                    1,
                    "gateway",
                    log=workdir / "gateway.log",
                )
            )
            uncached_port = free_port()
            processes.append(
                start_uvicorn(
                    "aos_gateway.main:create_app",
                    {**env, "AOS_AUTH_CACHE_SECONDS": "0"},
                    uncached_port,
                    1,
                    "uncached gateway",
                    log=workdir / "gateway-uncached.log",
                )
            )
            key = create_tenant(gateway)
        gateways = {
            "default": (gateway, processes[1].pid),
            "uncached": (f"http://127.0.0.1:{uncached_port}", processes[2].pid),
        }
        rows, keyed = measure(
            args, direct, processes[0].pid, gateways, key, redis_server_pid(redis_url)
        )
        metered = metered_api_calls(direct, key, keyed)
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
        drop_database(database_url)
    console.print(chart(rows))
    for row in rows:
        console.print(summary(row))
    console.print(f"metering: {metered} api_calls metered for {keyed} keyed gateway requests")
    if not args.no_write:
        write_performance_section(render(rows, args, command, (metered, keyed)))
        console.print(f"wrote the gateway_overhead section of {PERFORMANCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
