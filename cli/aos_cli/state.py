"""`.aos/run.json`: what a running `aos up` started, for `aos status` and for refusing a second one."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from aos_cli.credentials import read_json, write_private_json


@dataclass(frozen=True)
class RunState:
    pid: int
    create_time: float
    started_at: str
    processes: dict[str, dict[str, Any]]
    embedded: dict[str, int | None]
    database: str
    redis: str
    embedded_urls: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "create_time": self.create_time,
            "started_at": self.started_at,
            "processes": self.processes,
            "embedded": self.embedded,
            "database": self.database,
            "redis": self.redis,
            "embedded_urls": self.embedded_urls,
        }


def own_process_identity() -> tuple[int, float]:
    pid = os.getpid()
    return pid, psutil.Process(pid).create_time()


def write_state(path: Path, state: RunState) -> None:
    write_private_json(path, state.to_json())


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_state(path: Path) -> RunState | None:
    """The recorded run when its `aos up` process is still alive, else None."""
    document = read_json(path)
    try:
        state = RunState(
            pid=int(document["pid"]),
            create_time=float(document["create_time"]),
            started_at=str(document["started_at"]),
            processes=dict(document["processes"]),
            embedded=dict(document.get("embedded") or {}),
            database=str(document.get("database", "")),
            redis=str(document.get("redis", "")),
            embedded_urls=dict(document.get("embedded_urls") or {}),
        )
    except (KeyError, TypeError, ValueError):
        return None
    try:
        process = psutil.Process(state.pid)
        # A recycled PID has another start time.
        if abs(process.create_time() - state.create_time) > 1.0:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return state


def reap_stale(path: Path) -> list[int]:
    """Stop children left by an `aos up` that died without stopping them (e.g. killed -9).

    Only a recorded PID whose command line is still that uvicorn app is touched, so a recycled PID
    is never signalled. Returns the PIDs stopped.
    """
    document = read_json(path)
    if not document or read_state(path) is not None:
        return []
    stopped = []
    for name, process in dict(document.get("processes") or {}).items():
        try:
            candidate = psutil.Process(int(process["pid"]))
            command_line = " ".join(candidate.cmdline())
        except (psutil.Error, KeyError, TypeError, ValueError):
            continue
        package = "aos_" + str(name).replace("-", "_")
        if "uvicorn" not in command_line or f"{package}.main:create_app" not in command_line:
            continue
        candidate.terminate()
        try:
            candidate.wait(timeout=10)
        except psutil.TimeoutExpired:
            candidate.kill()
        stopped.append(candidate.pid)
    path.unlink(missing_ok=True)
    return stopped


def clear_state(path: Path) -> None:
    document = read_json(path)
    if document.get("pid") in (None, os.getpid()):
        path.unlink(missing_ok=True)
