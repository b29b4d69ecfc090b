"""Embedded-server housekeeping and the environment each child gets."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from rich.console import Console

from aos_cli.config import load_config
from aos_cli.runtime import (
    Backends,
    _forget_dead_pgserver_handles,
    child_argv,
    child_env,
    start_embedded_postgres,
)
from aos_cli.testing import alive, platform_data_dir
from aos_cli.up import StopSignal, _progress, _start_backends
from aos_common.embedded import EmbeddedServer


@dataclass
class FakeHandles:
    pids: list[int]

    def get(self) -> list[int]:
        return list(self.pids)

    def put(self, values: list[int]) -> None:
        self.pids = list(values)


@dataclass
class FakePgserver:
    global_process_id_list: FakeHandles
    _lock: threading.Lock = field(default_factory=threading.Lock)


def test_handles_of_killed_processes_no_longer_keep_postgres_running() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    handles = FakeHandles([dead.pid, os.getpid()])
    server = EmbeddedServer(url="postgresql://x", handle=FakePgserver(handles))

    _forget_dead_pgserver_handles(server)

    assert handles.pids == [os.getpid()]


def test_each_child_gets_its_port_the_shared_backends_and_every_peer_url(tmp_path: Path) -> None:
    config = load_config({"AOS_DATA_DIR": str(tmp_path), "AOS_TRACES_PORT": "9002"})
    backends = Backends(database_url="postgresql://db", redis_url="redis://r")
    secrets = {"internal_secret": "i", "jwt_secret": "j"}
    traces = config.process("traces")

    env = child_env({"KEEP": "1"}, config, traces, backends, secrets, "aos_op_k")

    assert env["KEEP"] == "1"
    assert env["AOS_PORT"] == "9002"
    assert env["DATABASE_URL"] == env["AOS_DATABASE_URL"] == "postgresql://db"
    assert env["REDIS_URL"] == env["AOS_REDIS_URL"] == "redis://r"
    assert env["AOS_TRACES_URL"] == "http://127.0.0.1:9002"
    assert env["AOS_TENANTS_URL"] == "http://127.0.0.1:8001"
    assert env["AOS_INTERNAL_SECRET"] == "i" and env["AOS_OPERATOR_KEY"] == "aos_op_k"
    assert child_argv(traces)[1:5] == ["-m", "uvicorn", "aos_traces.main:create_app", "--factory"]


def test_with_only_database_url_set_redis_is_embedded_and_stopped_again() -> None:
    with platform_data_dir() as data_dir:
        config = load_config({"AOS_DATA_DIR": str(data_dir), "DATABASE_URL": "postgres://u@h/d"})
        with _progress(Console(quiet=True)) as progress:
            backends = _start_backends(config, progress, StopSignal())
        try:
            assert backends.database_url == "postgresql://u@h/d"
            assert set(backends.embedded) == {"redis"}
            assert backends.redis_url.startswith("unix://")
            pid = backends.embedded_pids()["redis"]
            assert pid is not None and alive({pid}) == {pid}
        finally:
            backends.stop()
        assert alive({pid}) == set()


async def _execute(url: str, statement: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


def test_a_second_start_reuses_the_embedded_database() -> None:
    with platform_data_dir() as data_dir:
        config = load_config({"AOS_DATA_DIR": str(data_dir)})
        first = Backends(database_url="", redis_url="")
        first.embedded["postgres"] = start_embedded_postgres(config)
        asyncio.run(_execute(first.embedded["postgres"].url, "CREATE TABLE kept (id int)"))
        first.stop()

        second = Backends(database_url="", redis_url="")
        second.embedded["postgres"] = start_embedded_postgres(config)
        try:
            url = second.embedded["postgres"].url
            found = asyncio.run(_execute(url, "SELECT to_regclass('kept')::text"))
        finally:
            second.stop()
        assert found == "kept"
