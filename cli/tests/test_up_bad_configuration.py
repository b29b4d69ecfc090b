"""`aos up` with a bad configuration: one clear sentence, non-zero exit, no orphan process."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from aos_cli.testing import (
    MARKER_ENV,
    aos_command,
    free_ports,
    marked_pids,
    platform_data_dir,
    platform_env,
)
from aos_common.testing import create_database, drop_database


def _run_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(aos_command("up"), env=env, capture_output=True, text=True, timeout=60)


def _one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].endswith("."), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_unreachable_database_url(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    env = platform_env(
        tmp_path / ".aos", {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/aos"}
    )
    result = _run_up(env)
    assert result.returncode != 0
    sentence = _one_sentence(result.stderr)
    assert sentence.startswith(
        f"Cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:{port}/aos"
    )
    assert marked_pids(env[MARKER_ENV]) == set()


def test_malformed_database_url(tmp_path: Path) -> None:
    env = platform_env(tmp_path / ".aos", {"DATABASE_URL": "postgres//nohost"})
    result = _run_up(env)
    assert result.returncode != 0
    assert _one_sentence(result.stderr).startswith(
        "DATABASE_URL 'postgres//nohost' is not a valid PostgreSQL URL"
    )
    assert marked_pids(env[MARKER_ENV]) == set()


def test_port_in_use(tmp_path: Path) -> None:
    env = platform_env(tmp_path / ".aos")
    port = int(env["AOS_GATEWAY_PORT"])
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        result = _run_up(env)
    assert result.returncode != 0
    assert _one_sentence(result.stderr).startswith(f"Port {port} (gateway) is already in use")
    assert marked_pids(env[MARKER_ENV]) == set()
    assert not (tmp_path / ".aos" / "run.json").exists()


def test_failure_after_children_started_stops_them_and_the_embedded_servers() -> None:
    overrides = {"AOS_UP_TIMEOUT": "0.5"}
    server_url = os.environ.get("AOS_TEST_DATABASE_URL")
    database_url = create_database(server_url, prefix="aos_cli_up") if server_url else None
    if database_url:
        overrides["DATABASE_URL"] = database_url
    try:
        with platform_data_dir() as data_dir:
            env = platform_env(data_dir, overrides)
            result = _run_up(env)
            leftover = marked_pids(env[MARKER_ENV])
    finally:
        if database_url:
            drop_database(database_url)
    assert result.returncode != 0
    assert "did not become ready within 0.5 seconds" in _one_sentence(result.stderr)
    assert leftover == set()
