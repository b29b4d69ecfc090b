"""The two load generators bench/gateway_overhead.py can drive, each in a process of its own:

- wrk (Debian/Ubuntu package `wrk`), used when it is on PATH: a C load generator whose CPU per
  request is a small fraction of the services' (a few µs), so the two cores of a small machine
  go to the service and the gateway being measured;
- an httpx client in a spawned Python process, the fallback. It costs more CPU per request than
  the tenants service itself (2 to 3 ms measured here), which it takes from the same cores.

Both answer with a `Run`: responses, failures and a latency histogram in µs (pooled across rounds).
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import multiprocessing
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _support import process_cpu_seconds

WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


@dataclass
class Run:
    served: int  # 2xx responses
    failed: int  # any other status, and connections that broke
    seconds: float
    latency_us: collections.Counter[int] = field(default_factory=collections.Counter)

    @property
    def rate(self) -> float:
        return self.served / self.seconds if self.seconds else 0.0


def percentile(histogram: collections.Counter[int], fraction: float) -> float:
    """The `fraction` quantile of a latency histogram (µs → count), in milliseconds."""
    total = sum(histogram.values())
    rank = min(total - 1, int(fraction * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen > rank:
            return value / 1000
    raise ValueError("empty histogram")


def available() -> list[str]:
    return ["wrk", "httpx"] if shutil.which("wrk") else ["httpx"]


class WrkLoad:
    name = "wrk"

    def latency(self, url: str, headers: dict[str, str], seconds: float, _count: int) -> Run:
        """Sequential requests on one keep-alive connection for `seconds`."""
        return self._run(url, headers, seconds, connections=1)

    def throughput(
        self, url: str, headers: dict[str, str], seconds: float, concurrency: int
    ) -> Run:
        return self._run(url, headers, seconds, connections=concurrency)

    def cpu_seconds(self) -> float:
        return children_cpu_seconds()

    def close(self) -> None:
        pass

    @staticmethod
    def _run(url: str, headers: dict[str, str], seconds: float, connections: int) -> Run:
        command = wrk_command(url, seconds, connections, WRK_SCRIPT, headers)
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
        return read_wrk_report(output, url)


def wrk_command(
    url: str,
    seconds: float,
    connections: int,
    script: Path,
    headers: dict[str, str] | None = None,
) -> list[str]:
    """One wrk thread (the machine's other cores go to what is measured), `connections`
    keep-alive connections for `seconds` rounded up to whole seconds (all wrk takes); `script`
    must print wrk_report.lua's WRK_REPORT line (define its done() or load that file)."""
    whole_seconds = max(1, math.ceil(seconds))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{whole_seconds}s", "-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def read_wrk_report(output: str, url: str) -> Run:
    """The Run in the WRK_REPORT line wrk_report.lua's done() printed into `output`."""
    line = next((line for line in output.splitlines() if line.startswith("WRK_REPORT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no report for {url}:\n{output}")
    report = json.loads(line.removeprefix("WRK_REPORT "))
    status_errors = int(report["status_errors"])
    return Run(
        served=int(report["requests"]) - status_errors,
        failed=status_errors + int(report["socket_errors"]),
        seconds=int(report["duration_us"]) / 1e6,
        latency_us=collections.Counter(
            {int(value): int(count) for value, count in report["latency_us"]}
        ),
    )


def children_cpu_seconds() -> float:
    """CPU of every child process of this one that has exited and been waited for (the wrk
    runs, when nothing else was waited for in between): read before and after, the difference."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class HttpxLoad:
    name = "httpx"

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._jobs, self._results = context.Queue(), context.Queue()
        self._process = context.Process(
            target=_httpx_process, args=(self._jobs, self._results), daemon=True
        )
        self._process.start()

    def latency(self, url: str, headers: dict[str, str], _seconds: float, count: int) -> Run:
        """`count` sequential requests on one keep-alive connection (after one warm-up)."""
        return self._ask("latency", url, headers, (count,))

    def throughput(
        self, url: str, headers: dict[str, str], seconds: float, concurrency: int
    ) -> Run:
        return self._ask("throughput", url, headers, (seconds, concurrency))

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self._process.pid or 0)

    def close(self) -> None:
        self._jobs.put(None)
        self._process.join(timeout=10)

    def _ask(self, kind: str, url: str, headers: dict[str, str], args: tuple[Any, ...]) -> Run:
        self._jobs.put((kind, url, headers, args))
        value = self._results.get(timeout=600)
        if isinstance(value, Exception):
            raise value
        return Run(**value)


async def _httpx_latency(url: str, headers: dict[str, str], count: int) -> dict[str, Any]:
    histogram: collections.Counter[int] = collections.Counter()
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        await client.get(url)
        started_all = time.perf_counter()
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get(url)
            histogram[round((time.perf_counter() - started) * 1e6)] += 1
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    return {
        "served": count,
        "failed": 0,
        "seconds": time.perf_counter() - started_all,
        "latency_us": histogram,
    }


async def _httpx_throughput(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> dict[str, Any]:
    done = 0
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                response = await client.get(url)
                if response.status_code == 200:
                    done += 1
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {"served": done, "failed": errors, "seconds": time.perf_counter() - started}


def _httpx_process(jobs: Any, results: Any) -> None:
    """Runs in its own process: takes (kind, url, headers, args) jobs, answers with Run fields."""
    while True:
        job = jobs.get()
        if job is None:
            return
        kind, url, headers, args = job
        try:
            if kind == "latency":
                results.put(asyncio.run(_httpx_latency(url, headers, *args)))
            else:
                results.put(asyncio.run(_httpx_throughput(url, headers, *args)))
        except Exception as error:  # reported by the parent, never a silent hang
            results.put(error)


def start(name: str) -> WrkLoad | HttpxLoad:
    if name == "wrk":
        if not shutil.which("wrk"):
            raise SystemExit("wrk is not installed (apt install wrk), or use --generator httpx")
        return WrkLoad()
    return HttpxLoad()
