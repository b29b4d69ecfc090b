"""Helpers shared by the benches that run a service under uvicorn in its own processes.

A service measured in-process shares one core and one event loop with its load generator; under
uvicorn it runs as it does in production, and the CPU each process group spends per unit of work
can be read apart (service, its PostgreSQL backends, the load generator).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import timeit
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

PERFORMANCE = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_uvicorn(
    factory: str,
    env: Mapping[str, str],
    port: int,
    workers: int,
    name: str,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `factory` (module:function) under uvicorn on 127.0.0.1:`port` and wait for /healthz;
    its output goes to `log` when given."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(workers),
    ]
    output = log.open("wb") if log is not None else None
    process = subprocess.Popen(command, env=dict(env), stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the {name} service did not start")


class CpuMeter:
    """CPU seconds of the service (uvicorn and its workers) and of the PostgreSQL backends
    serving the bench database: a cost per unit that does not depend on how busy the shared
    machine is, unlike the wall-clock rates."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server = psutil.Process(server_pid)
        self.database = database

    def service(self) -> float:
        try:
            processes = [self.server, *self.server.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def postgres(self) -> float:
        total = 0.0
        for process in psutil.process_iter(["cmdline"]):
            try:
                if any(self.database in part for part in process.info["cmdline"] or []):
                    times = process.cpu_times()
                    total += times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def read(self) -> tuple[float, float, float]:
        """Service, PostgreSQL and load-generator (this process) CPU seconds so far."""
        return self.service(), self.postgres(), time.process_time()


def reference_loop_ms(repeats: int = 5) -> float:
    """Milliseconds this machine takes for a fixed pure-Python loop (the sum of i*i below
    10**6, best of `repeats`), recorded beside a bench's figures: the machines sessions run on
    differ by 2x or more in speed (2026-12-07: one session's machine gave 0.17 CPU-s per
    1,000 OTLP spans, the next one's 0.38 for the same code), so a figure read against another
    run's should be read with the two runs' reference times. One line of timeit, not a suite:
    it places a machine, it does not rank one."""
    number = 3
    best = min(timeit.repeat("sum(i * i for i in range(1_000_000))", number=number, repeat=repeats))
    return best / number * 1000


def write_performance_section(section: str) -> None:
    """Replace (or append) the docs/PERFORMANCE.md section whose `## name` heading opens
    `section`, leaving the other sections alone."""
    heading = section.split("\n", 1)[0]
    text = PERFORMANCE.read_text() if PERFORMANCE.exists() else "# Performance\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _match: section.rstrip("\n") + "\n\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    PERFORMANCE.parent.mkdir(parents=True, exist_ok=True)
    PERFORMANCE.write_text(text.rstrip("\n") + "\n")


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) `pid` has used so far; 0 for pid 0 (a process not measured)."""
    if pid == 0:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def redis_server_pid(redis_url: str) -> int:
    """The local redis-server serving `redis_url`'s TCP port, 0 when there is none to measure
    (a Unix-socket URL, such as the embedded server's, is not matched to a process)."""
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        return 0
    port = parts.port or 6379
    for process in psutil.process_iter(["name", "cmdline"]):
        name = process.info["name"] or ""
        command = " ".join(process.info["cmdline"] or [])
        if name.startswith("redis-server") and f":{port}" in command:
            return int(process.pid)
    return 0
