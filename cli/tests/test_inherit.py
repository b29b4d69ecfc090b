"""Contributed commands inherit the secrets and embedded servers of `aos up` in the data dir."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from aos_cli.credentials import write_private_json
from aos_cli.inherit import inherit_platform_environment
from aos_cli.state import RunState, write_state


def _installation(data_dir: Path) -> None:
    write_private_json(data_dir / "secrets.json", {"internal_secret": "i", "jwt_secret": "j"})
    write_private_json(data_dir / "credentials.json", {"operator_key": "aos_op_" + "k" * 40})
    me = psutil.Process(os.getpid())
    write_state(
        data_dir / "run.json",
        RunState(
            me.pid,
            me.create_time(),
            "t",
            {},
            {},
            "db",
            "redis",
            embedded_urls={"postgres": "postgresql://postgres@/postgres?host=/s"},
        ),
    )


def test_unset_variables_come_from_the_running_platform(tmp_path: Path) -> None:
    _installation(tmp_path)
    env = {"AOS_DATA_DIR": str(tmp_path)}
    inherit_platform_environment(env)
    assert env["AOS_JWT_SECRET"] == "j"
    assert env["AOS_INTERNAL_SECRET"] == "i"
    assert env["AOS_OPERATOR_KEY"] == "aos_op_" + "k" * 40
    assert env["DATABASE_URL"] == "postgresql://postgres@/postgres?host=/s"
    assert "REDIS_URL" not in env


def test_the_environment_wins(tmp_path: Path) -> None:
    _installation(tmp_path)
    env = {"AOS_DATA_DIR": str(tmp_path), "AOS_JWT_SECRET": "mine", "AOS_DATABASE_URL": "x"}
    inherit_platform_environment(env)
    assert env["AOS_JWT_SECRET"] == "mine"
    assert "DATABASE_URL" not in env


def test_nothing_is_inherited_without_an_installation(tmp_path: Path) -> None:
    env = {"AOS_DATA_DIR": str(tmp_path)}
    assert inherit_platform_environment(env) == {}
