"""Configuration of `aos up` from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from aos_cli.config import load_config
from aos_cli.errors import AosError


def test_defaults_are_the_api_md_ports_and_the_embedded_servers() -> None:
    config = load_config({})
    assert {p.name: p.port for p in config.processes} == {
        "tenants": 8001,
        "traces": 8002,
        "cost-intel": 8003,
        "audit-ledger": 8004,
        "guard-logs": 8005,
        "gateway": 8080,
    }
    assert config.database_url is None
    assert config.redis_url is None
    assert config.data_dir == Path(".aos").resolve()


def test_each_port_is_overridable_by_its_own_variable() -> None:
    config = load_config({"AOS_GATEWAY_PORT": "9080", "AOS_COST_INTEL_PORT": "9003"})
    assert config.gateway.port == 9080
    assert config.process("cost-intel").port == 9003
    assert config.process("cost-intel").url == "http://127.0.0.1:9003"


def test_database_and_redis_urls_come_from_either_variable_name() -> None:
    config = load_config({"DATABASE_URL": "postgresql://a@h/db", "AOS_REDIS_URL": "redis://h:1/0"})
    assert config.database_url == "postgresql://a@h/db"
    assert config.redis_url == "redis://h:1/0"


def test_a_port_that_is_not_a_number_is_named_in_one_sentence() -> None:
    with pytest.raises(AosError) as raised:
        load_config({"AOS_TRACES_PORT": "eighty"})
    assert str(raised.value) == (
        "AOS_TRACES_PORT must be a port number between 1 and 65535, not 'eighty'."
    )


def test_two_processes_on_one_port_are_refused() -> None:
    with pytest.raises(
        AosError, match="tenants and traces processes are both configured for port 8001"
    ):
        load_config({"AOS_TRACES_PORT": "8001"})
