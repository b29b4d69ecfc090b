"""Real processes for gateway tests: stand-in upstreams and the gateway itself, under uvicorn.

Each process is tracked by its PID and stopped by it; a test can kill an upstream and start it
again on the same port to watch the gateway eject and re-admit it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SUPPORT = Path(__file__).resolve().parent
DYNAMIC_YML = SUPPORT.parents[1] / "dynamic.yml"
_SCRUBBED = ("AOS_", "DATABASE_URL", "REDIS_URL", "OTEL_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


@dataclass
class Process:
    """One uvicorn process on a fixed port; restartable on that port."""

    app: str
    port: int
    env: dict[str, str]
    factory: bool = False
    log: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if self.factory:
            command.append("--factory")
        return command

    def start(self) -> Process:
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.popen = subprocess.Popen(
            self.command(),
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=str(SUPPORT),
        )
        return self

    def wait_ready(self, path: str = "/healthz", timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.app} exited with {self.popen.returncode}: {self.output()}"
                )
            try:
                if httpx.get(self.url + path, timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.app} on {self.port} not ready after {timeout}s: {self.output()}")

    def output(self) -> str:
        return (
            self.log.read_text(errors="replace")[-4000:] if self.log and self.log.exists() else ""
        )

    def kill(self) -> None:
        """SIGKILL, as a crash would: no graceful shutdown, connections just drop."""
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def standin(name: str, log_dir: Path, secret: str) -> Process:
    env = clean_env(
        {"STANDIN_NAME": name, "AOS_INTERNAL_SECRET": secret, "PYTHONPATH": str(SUPPORT)}
    )
    return Process("standin:app", free_port(), env, log=log_dir / f"standin-{name}.log")


def gateway(config: Path, log_dir: Path, env: Mapping[str, str], name: str = "gateway") -> Process:
    full = clean_env({"AOS_GATEWAY_CONFIG": str(config), "AOS_ENVIRONMENT": "test", **env})
    return Process(
        "aos_gateway.main:create_app", free_port(), full, factory=True, log=log_dir / f"{name}.log"
    )


@dataclass
class Standins(Process):
    """Several stand-ins served by one process (one port each): cheaper than a process apiece."""

    names: dict[str, int] = field(default_factory=dict)

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(SUPPORT / "standin.py"),
            *(f"{name}={port}" for name, port in self.names.items()),
        ]

    def url_of(self, name: str) -> str:
        return f"http://127.0.0.1:{self.names[name]}"

    def wait_ready(self, path: str = "/healthz", timeout: float = 120.0) -> None:
        for port in self.names.values():
            self.port = port
            super().wait_ready(path, timeout)


def standins(names: list[str], log_dir: Path, secret: str) -> Standins:
    env = clean_env({"AOS_INTERNAL_SECRET": secret, "PYTHONPATH": str(SUPPORT)})
    ports = {name: free_port() for name in names}
    return Standins(
        "standin", next(iter(ports.values())), env, log=log_dir / "standins.log", names=ports
    )
