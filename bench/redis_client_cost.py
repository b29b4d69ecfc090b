"""CPU per Redis call on the gateway's request path: redis-py against the gateway's own pipelined
connection (aos_gateway.redis_link), the same token-bucket script, interleaved in one run.

Why it exists: the gateway makes one such call on every proxied request, and the choice of a
hand-written client over redis-py rests on this figure. CPU is this process's user + system time
per call (getrusage), which does not depend on how busy the shared machine is; Redis' own CPU is
the same for both clients and not counted. Sequential calls, and 8 callers at once as under load.

    uv run python bench/redis_client_cost.py [--calls 20000 --rounds 3]

Writes the "redis_client_cost" section of docs/PERFORMANCE.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import resource
import secrets
import statistics
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "gateway"))

from _support import (  # noqa: E402
    PERFORMANCE,
    process_cpu_seconds,
    redis_server_pid,
    write_performance_section,
)

from aos_gateway.middlewares.ratelimit import COUNTED_TOKEN_BUCKET  # noqa: E402
from aos_gateway.redis_link import PipelinedRedis  # noqa: E402

console = Console()
Call = Callable[[], Awaitable[object]]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def cost_per_call(
    call: Call, calls: int, concurrency: int, server_pid: int
) -> tuple[float, float]:
    """Microseconds of CPU per call: this process's, and the Redis server's (0 when not local)."""

    async def caller(count: int) -> None:
        for _ in range(count):
            await call()

    await call()
    before, server_before = cpu_seconds(), process_cpu_seconds(server_pid)
    await asyncio.gather(*(caller(calls // concurrency) for _ in range(concurrency)))
    done = calls // concurrency * concurrency
    return (
        (cpu_seconds() - before) / done * 1e6,
        (process_cpu_seconds(server_pid) - server_before) / done * 1e6,
    )


Results = dict[tuple[str, int], list[tuple[float, float]]]


async def measure(redis_url: str, calls: int, rounds: int) -> Results:
    prefix = f"aos:bench:redis:{secrets.token_hex(4)}"
    keys = [f"{prefix}:bucket", f"{prefix}:usage"]
    arguments: list[str | int] = ["1000000.0", 1000000, "field"]
    library = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    library_script = library.register_script(COUNTED_TOKEN_BUCKET.source)
    link = PipelinedRedis(redis_url, connect_timeout=1, reply_timeout=1)
    clients: dict[str, Call] = {
        "redis-py (Script, pooled client)": lambda: library_script(keys=keys, args=arguments),
        "aos_gateway.redis_link": lambda: link.run_script(COUNTED_TOKEN_BUCKET, keys, arguments),
    }
    server_pid = redis_server_pid(redis_url)
    results: Results = {}
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("interleaved rounds", total=rounds * len(clients) * 2)
            for round_index in range(rounds):
                names = list(clients) if round_index % 2 == 0 else list(reversed(clients))
                for concurrency in (1, 8):
                    for name in names:
                        cost = await cost_per_call(clients[name], calls, concurrency, server_pid)
                        results.setdefault((name, concurrency), []).append(cost)
                        progress.advance(task)
    finally:
        await library.delete(*keys)
        await library.aclose()
        await link.aclose()
    return results


def _median(results: Results, key: tuple[str, int], part: int) -> float:
    return statistics.median(cost[part] for cost in results[key])


def render(results: Results, command: str) -> str:
    lines = [
        "## redis_client_cost",
        "",
        f"Command: `{command}` (run {datetime.date.today().isoformat()}; machine: "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other work, Python "
        f"{platform.python_version()}, uvloop; load average {os.getloadavg()[0]:.1f} when it "
        "finished).",
        "",
        "CPU per call of the gateway's token-bucket script (EVALSHA, two keys, three arguments), "
        "median of the interleaved rounds: the client's, and the Redis server's (when it runs on "
        "this machine; its share of each call, from its process CPU time):",
        "",
        "| client | client, sequential | client, 8 callers at once | Redis, sequential "
        "| Redis, 8 callers at once |",
        "|---|---:|---:|---:|---:|",
    ]
    names = list(dict.fromkeys(name for name, _ in results))
    for name in names:
        lines.append(
            f"| {name} | {_median(results, (name, 1), 0):.1f} µs | "
            f"{_median(results, (name, 8), 0):.1f} µs | {_median(results, (name, 1), 1):.1f} µs | "
            f"{_median(results, (name, 8), 1):.1f} µs |"
        )
    library, link = names
    share = _median(results, (link, 8), 0) / _median(results, (library, 8), 0)
    lines += [
        "",
        f"The gateway's connection costs {share:.0%} of redis-py's client CPU per call under load; "
        "it is what the gateway uses on the request path (aos_gateway/redis_link.py says why it "
        "is hand-written). Redis' own CPU per call is much the same for both clients.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    command = "uv run python bench/redis_client_cost.py " + " ".join(sys.argv[1:])
    redis_url = os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    results = uvloop.run(measure(redis_url, args.calls, args.rounds))
    section = render(results, command.strip())
    console.print(section)
    if not args.no_write:
        write_performance_section(section)
        console.print(f"wrote the redis_client_cost section of {PERFORMANCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
