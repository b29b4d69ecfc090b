"""The demo bootstrap adapter: called with the values its signature names, sync or async."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from aos_cli import bootstrap
from aos_cli.bootstrap import DemoCredentials

VALUES = {"database_url": "postgresql://x/y", "operator_key": "aos_op_k", "data_dir": "/d"}


def _install(monkeypatch: pytest.MonkeyPatch, **attributes: object) -> None:
    for name in bootstrap.MODULES:
        module = types.ModuleType(name)
        for attribute, value in attributes.items():
            setattr(module, attribute, value)
        monkeypatch.setitem(sys.modules, name, module)


def test_a_sync_bootstrap_gets_only_the_values_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, str] = {}

    def bootstrap_demo(database_url: str, operator_key: str) -> dict[str, str]:
        seen.update(database_url=database_url, operator_key=operator_key)
        return {"tenant_id": "tnt_1", "admin_key": "aos_k", "console_token": "jwt"}

    _install(monkeypatch, bootstrap_demo=bootstrap_demo)
    assert bootstrap.bootstrap_demo(VALUES) == DemoCredentials("tnt_1", "aos_k", "jwt")
    assert seen == {"database_url": "postgresql://x/y", "operator_key": "aos_op_k"}


def test_an_async_bootstrap_returning_an_object_is_awaited(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass
    class Result:
        tenant_id: str
        admin_key: str
        console_token: str | None = None

    async def bootstrap_demo(**values: object) -> Result:
        assert values == VALUES
        return Result("tnt_2", "aos_k2")

    _install(monkeypatch, bootstrap_demo=bootstrap_demo)
    assert bootstrap.bootstrap_demo(VALUES) == DemoCredentials("tnt_2", "aos_k2", None)


def test_without_a_bootstrap_nothing_is_created(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch)
    assert not bootstrap.available()
    assert bootstrap.bootstrap_demo(VALUES) is None
