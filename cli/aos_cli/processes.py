"""Child processes of `aos up`, each in its own process group so that stopping is complete.

A terminal's Ctrl-C reaches only `aos up` (children run in their own sessions), which then stops
the children in order: SIGTERM to every group, a grace period, SIGKILL to whatever is left, and a
final check by PID of every process seen in those groups.

A child that exits on its own is restarted by `Supervisor.poll` with exponential backoff (1 s,
2 s, 4 s ... at most 30 s; back to 1 s once a child has run a minute), while the others keep
serving: one crashed service is an outage of its API area, not of the platform.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
STABLE_AFTER_SECONDS = 60.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    known_pids: set[int] = field(default_factory=set)
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, repr=False)
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    # Exits in a row without a minute of running in between; sets the backoff.
    quick_exits: int = 0
    restart_at: float | None = None

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


@dataclass(frozen=True)
class SupervisorEvent:
    """Something `Supervisor.poll` did, for `aos up` to report."""

    kind: Literal["exited", "restarted"]
    child: Child
    exit_code: int | None = None
    delay: float = 0.0


def _start(
    argv: Sequence[str], env: Mapping[str, str], log_path: Path, name: str
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        log.write(f"\n=== {name} starting at {stamp}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


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
        process = _start(argv, env, log_path, name)
        child = Child(
            name=name,
            process=process,
            log_path=log_path,
            known_pids={process.pid},
            argv=tuple(argv),
            env=dict(env),
        )
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        return [child for child in self.children if child.exit_code() is not None]

    def poll(self, now: float | None = None) -> list[SupervisorEvent]:
        """Notice children that exited and schedule their restart; restart those whose backoff
        has passed. Call it regularly from the main loop."""
        now = time.monotonic() if now is None else now
        events = []
        for child in self.children:
            code = child.exit_code()
            if code is None:
                continue
            if child.restart_at is None:
                ran_long = now - child.started_at >= STABLE_AFTER_SECONDS
                child.quick_exits = 1 if ran_long else child.quick_exits + 1
                delay = min(FIRST_RESTART_DELAY * 2 ** (child.quick_exits - 1), MAX_RESTART_DELAY)
                child.restart_at = now + delay
                events.append(SupervisorEvent("exited", child, exit_code=code, delay=delay))
            elif now >= child.restart_at:
                self._restart(child, now)
                events.append(SupervisorEvent("restarted", child))
        return events

    def _restart(self, child: Child, now: float) -> None:
        # Whatever the dead process left in its group (a reloader's worker) goes first.
        _signal_group(child.pid, signal.SIGKILL)
        child.process = _start(child.argv, child.env, child.log_path, child.name)
        child.known_pids.add(child.process.pid)
        child.started_at = now
        child.restart_at = None
        child.restarts += 1

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
