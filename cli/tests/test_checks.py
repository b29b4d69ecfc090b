"""Pre-flight checks: each failure is one sentence naming the problem."""

from __future__ import annotations

import os
import socket

import pytest

from aos_cli.checks import (
    check_database_reachable,
    check_ports_free,
    check_redis_reachable,
    masked,
    validate_database_url,
    validate_redis_url,
)
from aos_cli.config import load_config
from aos_cli.errors import AosError
from aos_cli.testing import free_ports


def test_a_malformed_database_url_is_named() -> None:
    with pytest.raises(AosError) as raised:
        validate_database_url("not a url")
    assert str(raised.value).startswith("DATABASE_URL 'not a url' is not a valid PostgreSQL URL")


def test_a_database_url_of_another_kind_is_refused() -> None:
    with pytest.raises(AosError, match="is not a valid PostgreSQL URL"):
        validate_database_url("mysql://root@localhost/db")


def test_a_postgres_scheme_and_async_driver_are_normalised() -> None:
    assert validate_database_url("postgres://u:p@h:5/d") == "postgresql://u:p@h:5/d"
    assert validate_database_url("postgresql+asyncpg://u@h/d") == "postgresql://u@h/d"


def test_a_malformed_redis_url_is_named() -> None:
    with pytest.raises(AosError, match="REDIS_URL 'http://x' is not a valid Redis URL"):
        validate_redis_url("http://x")


def test_messages_never_show_a_password() -> None:
    assert masked("postgresql://u:secret@h/d") == "postgresql://u:***@h/d"
    assert masked("redis://:secret@h:6379/0") == "redis://:***@h:6379/0"


def test_a_database_url_with_a_bad_port_is_refused() -> None:
    with pytest.raises(AosError, match="is not a valid PostgreSQL URL"):
        validate_database_url("postgresql://u@h:99999/d")


def test_a_port_in_use_is_named_with_its_process() -> None:
    (port,) = free_ports(1)
    config = load_config({"AOS_TRACES_PORT": str(port)})
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        with pytest.raises(AosError) as raised:
            check_ports_free(config.processes)
    assert str(raised.value).startswith(f"Port {port} (traces) is already in use")


def test_an_unreachable_database_is_named_without_its_password() -> None:
    (port,) = free_ports(1)
    with pytest.raises(AosError) as raised:
        check_database_reachable(f"postgresql://u:secret@127.0.0.1:{port}/db")
    message = str(raised.value)
    assert message.startswith(
        f"Cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:{port}/db"
    )
    assert "secret" not in message


def test_an_unreachable_redis_is_named() -> None:
    (port,) = free_ports(1)
    with pytest.raises(AosError, match=f"Cannot connect to Redis at redis://127.0.0.1:{port}/0"):
        check_redis_reachable(f"redis://127.0.0.1:{port}/0")


@pytest.mark.skipif(
    not (os.environ.get("AOS_TEST_DATABASE_URL") and os.environ.get("AOS_TEST_REDIS_URL")),
    reason="needs configured servers (the embedded path runs in the platform tests)",
)
def test_reachable_servers_pass() -> None:
    check_database_reachable(os.environ["AOS_TEST_DATABASE_URL"])
    check_redis_reachable(os.environ["AOS_TEST_REDIS_URL"])


def test_an_empty_password_is_not_shown_as_hidden() -> None:
    assert masked("postgresql://postgres:@/postgres?host=/tmp/x") == (
        "postgresql://postgres@/postgres?host=/tmp/x"
    )
