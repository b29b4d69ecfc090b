"""The platform the fault runs break: a real `aos up` with its own embedded PostgreSQL (which may be
frozen with SIGSTOP, never the machine's shared one) and a private Redis (which may be killed and
started again on the same port), plus the load of acknowledged writes the faults are judged by.

Not a test module: tests/reliability/faults.py drives it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from aos_cli.testing import RunningPlatform, platform_data_dir, platform_env, start_platform
from aos_common.testing.servers import PrivateRedis, private_redis

START_TIMEOUT_SECONDS = 180.0


@dataclass
class Platform:
    running: RunningPlatform
    redis: PrivateRedis
    tenant_id: str = ""
    key: str = ""

    @property
    def gateway(self) -> str:
        return self.running.gateway_url

    def service_url(self, name: str) -> str:
        return self.running.service_urls[name]

    def pid(self, name: str) -> int:
        state = json.loads((self.running.data_dir / "run.json").read_text())
        return int(state["processes"][name]["pid"])

    @property
    def database_url(self) -> str:
        return str(self.running.run_state["embedded_urls"]["postgres"])

    def postgres_processes(self) -> list[psutil.Process]:
        """The embedded postmaster and every backend it forked."""
        postmaster = psutil.Process(int(self.running.run_state["embedded"]["postgres"]))
        return [postmaster, *postmaster.children(recursive=True)]

    def output(self) -> str:
        return self.running.output()


@contextmanager
def started_platform() -> Iterator[Platform]:
    with private_redis() as redis, platform_data_dir() as data_dir:
        overrides = {"REDIS_URL": redis.url, "AOS_UP_TIMEOUT": str(START_TIMEOUT_SECONDS)}
        running = start_platform(platform_env(data_dir, overrides), timeout=START_TIMEOUT_SECONDS)
        try:
            yield Platform(running=running, redis=redis)
        finally:
            if running.process.poll() is None:
                running.interrupt(timeout=90)
            running.kill_everything()


def create_tenant(platform: Platform) -> None:
    """A tenant of its own on the enterprise plan, so that rate limits do not shape the load."""
    operator = {"X-AOS-Key": platform.running.credentials["operator_key"]}
    response = httpx.post(
        platform.gateway + "/api/v1/tenants",
        json={"name": f"faults {uuid.uuid4().hex[:6]}", "plan": "enterprise"},
        headers=operator,
        timeout=30,
    )
    response.raise_for_status()
    platform.tenant_id = response.json()["id"]
    platform.key = response.json()["initial_api_key"]["key"]


@contextmanager
def frozen(processes: list[psutil.Process]) -> Iterator[None]:
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            try:
                process.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                continue


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


# --- acknowledged writes -------------------------------------------------------------------------


@dataclass
class Attempt:
    at: float
    ok: bool
    status: int | None


@dataclass
class Load:
    """Writers that retry each operation with its own Idempotency-Key until it is acknowledged,
    as a careful client does; what was acknowledged is what must be stored exactly once."""

    platform: Platform
    request: Callable[[str], tuple[str, dict[str, Any]]]
    writers: int = 20
    op_deadline_seconds: float = 90.0
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    abandoned: set[str] = field(default_factory=set)
    attempts: list[Attempt] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _prefix: str = field(default_factory=lambda: "f" + uuid.uuid4().hex[:8])

    async def _one(self, client: httpx.AsyncClient, op_id: str) -> None:
        path, body = self.request(op_id)
        headers = {"X-AOS-Key": self.platform.key, "Idempotency-Key": op_id}
        started = time.monotonic()
        while time.monotonic() - started < self.op_deadline_seconds:
            status = None
            try:
                response = await client.post(path, json=body, headers=headers)
                status = response.status_code
                if 200 <= status < 300:
                    self.attempts.append(Attempt(time.monotonic(), True, status))
                    self.acknowledged[op_id] = response.json()
                    return
            except httpx.HTTPError:
                pass
            self.attempts.append(Attempt(time.monotonic(), False, status))
            await asyncio.sleep(0.2)
        self.abandoned.add(op_id)

    async def _writer(self, client: httpx.AsyncClient, number: int) -> None:
        sequence = 0
        while not self._stop.is_set():
            sequence += 1
            await self._one(client, f"{self._prefix}-{number}-{sequence}")

    async def run_while(self, scenario: Callable[[], Awaitable[None]]) -> None:
        timeout = httpx.Timeout(10.0, connect=2.0)
        limits = httpx.Limits(max_connections=self.writers * 2)
        async with httpx.AsyncClient(
            base_url=self.platform.gateway, timeout=timeout, limits=limits, trust_env=False
        ) as client:
            tasks = [asyncio.create_task(self._writer(client, n)) for n in range(self.writers)]
            try:
                await scenario()
            finally:
                self._stop.set()
                await asyncio.gather(*tasks)

    def failed_attempts(self) -> int:
        return sum(1 for attempt in self.attempts if not attempt.ok)

    def recovered_at(self, since: float) -> float | None:
        """When writes succeeded again after the last failed attempt (None: none failed)."""
        failures = [a.at for a in self.attempts if not a.ok and a.at >= since]
        if not failures:
            return None
        last = max(failures)
        successes = [a.at for a in self.attempts if a.ok and a.at > last]
        return min(successes) if successes else None


async def query(platform: Platform, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(platform.database_url, timeout=30)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def readiness(url: str, budget: float = 3.0) -> tuple[int | None, float]:
    """The status of /readyz and how long it took to answer (None: no answer within budget)."""
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=budget, trust_env=False) as client:
            status: int | None = (await client.get(url + "/readyz")).status_code
    except httpx.HTTPError:
        status = None
    return status, time.monotonic() - started


_TIMED_PROBE = """
import sys, time, httpx
with httpx.Client(timeout=float(sys.argv[2]), trust_env=False) as client:
    started = time.monotonic()
    try:
        status = client.get(sys.argv[1] + "/readyz").status_code
    except httpx.HTTPError:
        status = 0
    print(status, time.monotonic() - started)
"""


async def timed_readiness(url: str, budget: float = 3.0) -> tuple[int | None, float]:
    """Like `readiness`, timed in a process of its own, so that the load this runner generates
    in its event loop does not add to the figure."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _TIMED_PROBE, url, str(budget), stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    status, took = output.decode().split()
    return (int(status) or None), float(took)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
