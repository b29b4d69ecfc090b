"""Run `aos up` as a real process for end-to-end tests, and prove afterwards that nothing is left.

Every process started for one platform inherits a unique marker in its environment, so a test can
find each of them by PID (uvicorn children, embedded PostgreSQL and Redis) even after `aos up` is
gone, and assert that none survived.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from aos_cli.config import OTLP_GRPC_PORT_ENV, PROCESSES, port_env
from aos_cli.console_build import CONSOLE_BUILD_ENV
from aos_common.embedded import scratch_data_dir

MARKER_ENV = "AOS_TEST_PLATFORM_MARKER"
READY_LINE = "Press Ctrl-C to stop."

# Inherited settings that would redirect a test platform somewhere else.
_SCRUBBED_PREFIXES = ("AOS_", "DATABASE_URL", "REDIS_URL")
_KEPT = ("AOS_TEST_DATABASE_URL", "AOS_TEST_REDIS_URL")


@contextmanager
def platform_data_dir() -> Iterator[Path]:
    """A fresh data directory outside pytest's base temp (see `scratch_data_dir`)."""
    with scratch_data_dir("aos-platform-") as root:
        yield root / ".aos"


def free_ports(count: int) -> list[int]:
    """`count` distinct ports the kernel considers free right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def aos_command(*args: str) -> list[str]:
    """The installed `aos` entry point beside this interpreter, else `python -m aos_cli`."""
    script = Path(sys.executable).parent / "aos"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "aos_cli", *args]


def platform_env(
    data_dir: Path, overrides: Mapping[str, str] | None = None, *, ports: bool = True
) -> dict[str, str]:
    """A clean environment for `aos up`: own data directory, free ports, a fresh marker."""
    env = {
        k: v for k, v in os.environ.items() if k in _KEPT or not k.startswith(_SCRUBBED_PREFIXES)
    }
    env["AOS_DATA_DIR"] = str(data_dir)
    env[MARKER_ENV] = uuid.uuid4().hex
    env["PYTHONUNBUFFERED"] = "1"
    env[CONSOLE_BUILD_ENV] = "0"
    if ports:
        *service_ports, grpc_port = free_ports(len(PROCESSES) + 1)
        for spec, port in zip(PROCESSES, service_ports, strict=True):
            env[port_env(spec)] = str(port)
        env[OTLP_GRPC_PORT_ENV] = str(grpc_port)
    env.update(overrides or {})
    return env


def marked_pids(marker: str) -> set[int]:
    """PIDs of live processes whose environment carries this platform's marker."""
    found = set()
    for process in psutil.process_iter(["pid"]):
        if process.pid == os.getpid():
            continue
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(MARKER_ENV) == marker:
                found.add(process.pid)
        except (psutil.Error, OSError):
            continue
    return found


def alive(pids: set[int]) -> set[int]:
    result = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                result.add(pid)
        except psutil.Error:
            continue
    return result


@dataclass
class RunningPlatform:
    """One `aos up` process and what it reported once ready."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    data_dir: Path
    output_path: Path
    ready_after_seconds: float = 0.0
    run_state: dict[str, Any] = field(default_factory=dict)

    @property
    def marker(self) -> str:
        return self.env[MARKER_ENV]

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def credentials(self) -> dict[str, Any]:
        return json.loads(self.credentials_path.read_text())

    @property
    def gateway_url(self) -> str:
        return str(self.credentials["gateway_url"])

    @property
    def service_urls(self) -> dict[str, str]:
        return dict(self.credentials["services"])

    @property
    def internal_secret(self) -> str:
        """The secret the services check X-AOS-Context with (for tests that act as the gateway)."""
        return self.env.get("AOS_INTERNAL_SECRET") or str(
            json.loads((self.data_dir / "secrets.json").read_text())["internal_secret"]
        )

    @property
    def jwt_secret(self) -> str:
        return self.env.get("AOS_JWT_SECRET") or str(
            json.loads((self.data_dir / "secrets.json").read_text())["jwt_secret"]
        )

    @property
    def child_pids(self) -> dict[str, int]:
        return {name: int(p["pid"]) for name, p in self.run_state["processes"].items()}

    @property
    def embedded_pids(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.run_state.get("embedded", {}).items() if v}

    def all_known_pids(self) -> set[int]:
        """Children, embedded servers, and anything else carrying the marker right now."""
        pids = set(self.child_pids.values()) | set(self.embedded_pids.values())
        for pid in list(pids):
            try:
                pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
            except psutil.Error:
                continue
        return pids | marked_pids(self.marker)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def interrupt(self, timeout: float = 60.0) -> int:
        """Send Ctrl-C (SIGINT) to `aos up` and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill_everything(self) -> None:
        """Last resort for a failed test: no process of this platform may outlive the session."""
        pids = self.all_known_pids() if self.run_state else marked_pids(self.marker)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in alive(pids | marked_pids(self.marker)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue


def start_platform(env: dict[str, str], timeout: float = 60.0) -> RunningPlatform:
    """Start `aos up` and return once the gateway answers /readyz with 200 (or raise)."""
    data_dir = Path(env["AOS_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    output_path = data_dir.parent / f"aos-up-{env[MARKER_ENV][:8]}.log"
    started = time.monotonic()
    with open(output_path, "wb") as output:
        process = subprocess.Popen(
            aos_command("up"),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    platform = RunningPlatform(process=process, env=env, data_dir=data_dir, output_path=output_path)
    run_file = data_dir / "run.json"
    try:
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"aos up exited with {process.returncode}:\n{platform.output()}"
                    )
                # The summary's last line is printed once credentials and run.json are written.
                if READY_LINE in platform.output():
                    try:
                        response = client.get(platform.gateway_url + "/readyz")
                        if response.status_code == 200:
                            break
                    except (httpx.HTTPError, json.JSONDecodeError, KeyError):
                        pass
                if time.monotonic() - started > timeout:
                    raise RuntimeError(
                        f"the gateway was not ready within {timeout:g} s:\n{platform.output()}"
                    )
                time.sleep(0.25)
        platform.ready_after_seconds = time.monotonic() - started
        platform.run_state = json.loads(run_file.read_text())
    except BaseException:
        platform.kill_everything()
        raise
    return platform
