"""The `aos` command's own commands and the ones service packages contribute."""

from __future__ import annotations

import importlib

import typer
from typer.testing import CliRunner

from aos_cli.main import CONTRIBUTED, app, mount_contributed


def test_help_lists_up_migrate_and_status() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "migrate", "status"):
        assert command in result.output


def test_contributed_commands_are_mounted_exactly_when_their_package_offers_them() -> None:
    expected = []
    for module_name, attribute, name, _ in CONTRIBUTED:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if getattr(module, attribute, None) is not None:
            expected.append(name)
    assert mount_contributed(typer.Typer()) == expected


def test_status_without_a_running_platform_says_so(tmp_path) -> None:
    result = CliRunner().invoke(app, ["status"], env={"AOS_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert f"AOS is not running from {tmp_path}; start it with `aos up`." in result.output


def test_own_commands_do_not_import_the_service_packages() -> None:
    assert mount_contributed(typer.Typer(), ["aos", "up"]) == []
    assert mount_contributed(typer.Typer(), ["aos", "--help"]) == mount_contributed(typer.Typer())
