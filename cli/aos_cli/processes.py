"""Child processes of `aos up`, each in its own process group so that stopping is complete.

A terminal's Ctrl-C reaches only `aos up` (children run in their own sessions), which then stops
the children in order: SIGTERM to every group, a grace period, SIGKILL to whatever is left, and a
final check by PID of every process seen in those groups.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    known_pids: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()

    def remember_descendants(self) -> None:
        """Record the PIDs in this child's tree, so a stop can prove each one is gone."""
        self.known_pids.add(self.pid)
        try:
            for descendant in psutil.Process(self.pid).children(recursive=True):
                self.known_pids.add(descendant.pid)
        except psutil.Error:
            pass

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


class Supervisor:
    """Starts children and guarantees that `stop_all` leaves none of them running."""

    def __init__(self) -> None:
        self.children: list[Child] = []

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path
    ) -> Child:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(
                f"\n=== {name} starting at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n".encode()
            )
            log.flush()
            process = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name=name, process=process, log_path=log_path, known_pids={process.pid})
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        return [child for child in self.children if child.exit_code() is not None]

    def stop_all(self, grace_seconds: float = 10.0) -> set[int]:
        """Stop every child and its whole group; return PIDs still alive (empty on success)."""
        for child in self.children:
            child.remember_descendants()
        for child in reversed(self.children):
            _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        pids = set().union(*(child.known_pids for child in self.children))
        leftover = _alive(pids)
        if leftover or any(child.exit_code() is None for child in self.children):
            for child in self.children:
                _signal_group(child.pid, signal.SIGKILL)
            for pid in leftover:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for child in self.children:
                try:
                    child.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            psutil.wait_procs(
                [p for p in (_process_or_none(pid) for pid in leftover) if p is not None],
                timeout=5,
            )
        return _alive(pids)


def _process_or_none(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
