"""The supervisor leaves no process behind, even one that ignores SIGTERM or forks."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

from aos_cli.processes import Supervisor
from aos_cli.testing import alive

# A child that ignores SIGTERM and starts a grandchild that does too.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
print("started", flush=True)
time.sleep(600)
"""


def _wait_for_grandchild(pid: int) -> set[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = psutil.Process(pid).children(recursive=True)
        if children:
            return {pid, *(c.pid for c in children)}
        time.sleep(0.05)
    raise AssertionError("grandchild never started")


def test_stop_all_kills_children_and_grandchildren_that_ignore_sigterm(tmp_path: Path) -> None:
    supervisor = Supervisor()
    child = supervisor.spawn("stubborn", [sys.executable, "-c", STUBBORN], {}, tmp_path / "s.log")
    pids = _wait_for_grandchild(child.pid)

    leftover = supervisor.stop_all(grace_seconds=0.5)

    assert leftover == set()
    assert alive(pids) == set()


def test_children_run_in_their_own_process_group_and_log_to_a_file(tmp_path: Path) -> None:
    supervisor = Supervisor()
    code = "import os; print('group', os.getpgid(0) == os.getpid())"
    child = supervisor.spawn("echo", [sys.executable, "-c", code], {}, tmp_path / "e.log")
    child.process.wait(timeout=20)
    assert "group True" in child.log_tail()
    assert supervisor.exited() == [child]
    assert supervisor.stop_all() == set()


def test_an_exited_child_is_restarted_after_a_backoff_that_doubles(tmp_path: Path) -> None:
    supervisor = Supervisor()
    argv = [sys.executable, "-c", "import sys; print('run'); sys.exit(3)"]
    child = supervisor.spawn("crashy", argv, {}, tmp_path / "c.log")
    child.process.wait(timeout=20)
    now = time.monotonic()

    [exited] = supervisor.poll(now)
    assert (exited.kind, exited.exit_code, exited.delay) == ("exited", 3, 1.0)
    assert supervisor.poll(now + 0.5) == []
    first_pid = child.pid
    [restarted] = supervisor.poll(now + 1.0)
    assert restarted.kind == "restarted"
    assert child.pid != first_pid and child.restarts == 1

    child.process.wait(timeout=20)
    [again] = supervisor.poll(now + 2.0)
    assert again.delay == 2.0
    assert child.log_tail().count("=== crashy starting") == 2
    assert supervisor.stop_all() == set()


def test_a_child_that_ran_a_minute_restarts_after_the_first_delay_again(tmp_path: Path) -> None:
    supervisor = Supervisor()
    child = supervisor.spawn("once", [sys.executable, "-c", "pass"], {}, tmp_path / "o.log")
    child.quick_exits = 5
    child.process.wait(timeout=20)
    [exited] = supervisor.poll(child.started_at + 61)
    assert exited.delay == 1.0
    assert supervisor.stop_all() == set()
