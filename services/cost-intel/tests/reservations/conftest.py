"""cost-intel as a real process (uvicorn, its own Redis) for the must-show tests: concurrency over
HTTP, a kill -9 with holds, a Redis flush."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aos_common.auth import Principal, sign_context
from aos_common.embedded import start_redis
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET

START_TIMEOUT_SECONDS = 180.0
"""Generous: on a machine shared with other test runs a cold start has taken over a minute."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveCostIntel:
    """One cost-intel process; `kill()` is SIGKILL (no shutdown hooks), `start()` a new one.
    Idle connections are kept for two minutes, so a client reusing one between bursts never
    races the server closing it."""

    env: dict[str, str]
    log: Path
    redis_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "uvicorn", "aos_cost_intel.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
            "--no-access-log", "--timeout-keep-alive", "120",
        ]  # fmt: skip
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cost-intel exited; see {self.log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("cost-intel did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def _no_revocations(_: object) -> JSONResponse:
    return JSONResponse({"key_ids": []})


@pytest.fixture(scope="module")
def revocations_url() -> Iterator[str]:
    """The one tenants route a service asks on its own (the revoked keys, here none): without
    it a key's signed context is accepted for 5 s only, less than a request may wait here."""
    app = Starlette(routes=[Route("/internal/v1/auth/revocations", _no_revocations)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(
    migrated_database: str, revocations_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveCostIntel]:
    directory = tmp_path_factory.mktemp("live-cost-intel")
    redis = start_redis(directory / "redis")
    env = {
        **os.environ,
        "AOS_TENANTS_URL": revocations_url,
        "AOS_DATABASE_URL": migrated_database,
        "AOS_REDIS_URL": redis.url,
        "AOS_ENVIRONMENT": "test",
        "AOS_TELEMETRY_ENABLED": "false",
        "AOS_DETECTOR_INTERVAL_SECONDS": "0",
        "AOS_ALERT_INTERVAL_SECONDS": "0",
        "AOS_OUTBOX_INTERVAL_SECONDS": "3600",
        "AOS_DATABASE_POOL_SIZE": "20",
    }
    service = LiveCostIntel(env=env, log=directory / "cost-intel.log", redis_url=redis.url)
    service.start()
    try:
        yield service
    finally:
        service.kill()
        redis.stop()
        log = service.log.read_text(errors="replace")
        if "Traceback" in log or "ERROR" in log:
            print(f"cost-intel log:\n{log[-5000:]}")


def signed(tenant_id: str, key_id: str | None = None) -> dict[str, str]:
    """The signed context a gateway sends for an admin of `tenant_id` (an API key's when
    `key_id` is given)."""
    principal = Principal(
        tenant_id=tenant_id,
        principal_id=key_id or "user_test",
        principal_type="api_key" if key_id else "user",
        roles=["admin"],
        permissions=[],
        key_id=key_id,
    )
    return sign_context(principal, DEVELOPMENT_INTERNAL_SECRET)
