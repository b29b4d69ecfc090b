"""run.json: a live `aos up` is recognised; children of a dead one are reaped, nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

from aos_cli.credentials import write_private_json
from aos_cli.state import RunState, read_state, reap_stale, write_state
from aos_cli.testing import alive

SLEEPER = "import time; time.sleep(60)"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_live_aos_up_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    me = psutil.Process(os.getpid())
    write_state(path, RunState(me.pid, me.create_time(), "t", {}, {}, "db", "redis"))
    state = read_state(path)
    assert state is not None and state.pid == me.pid


def test_children_of_a_dead_aos_up_are_stopped_and_strangers_left_alone(tmp_path: Path) -> None:
    orphan = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, "uvicorn", "aos_tenants.main:create_app"]
    )
    stranger = subprocess.Popen([sys.executable, "-c", SLEEPER])
    try:
        path = tmp_path / "run.json"
        write_private_json(
            path,
            {
                "pid": _dead_pid(),
                "create_time": 0.0,
                "started_at": "t",
                "processes": {"tenants": {"pid": orphan.pid}, "traces": {"pid": stranger.pid}},
            },
        )
        assert read_state(path) is None

        assert reap_stale(path) == [orphan.pid]

        orphan.wait(timeout=10)
        assert alive({stranger.pid}) == {stranger.pid}
        assert not path.exists()
    finally:
        for process in (orphan, stranger):
            process.kill()
            process.wait()
