"""The `aos` command's own commands and the ones service packages contribute."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from aos_cli.main import CONTRIBUTED, Contributed, app, available, load

HEAVY = ("sqlalchemy", "fastapi", "asyncpg", "rich", "httpx", "aos_tenants", "aos_common.db")


def test_help_lists_own_and_installed_contributed_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "migrate", "status"):
        assert command in result.output
    for contributed in CONTRIBUTED:
        assert (f"  {contributed.name} " in result.output) == available(contributed)


def test_help_imports_no_service_package_nor_database_library() -> None:
    probe = (
        "import sys\n"
        "from aos_cli.main import app\n"
        "try:\n    app(['--help'], prog_name='aos')\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("contributed", CONTRIBUTED, ids=lambda c: c.name)
def test_listed_help_is_the_commands_own(contributed: Contributed) -> None:
    if not available(contributed):
        pytest.skip(f"{contributed.module} is not installed")
    loaded = load(contributed)
    assert loaded is not None
    assert loaded.get_short_help_str(limit=200) == contributed.help


def test_a_missing_package_is_neither_listed_nor_loaded() -> None:
    missing = Contributed("nothing", "aos_no_such_package.cli", "app", "group", "Nothing.")
    assert not available(missing) and load(missing) is None


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"aos {version('aos-cli')}"


def test_shell_completion_completes_contributed_commands() -> None:
    env = {**os.environ, "_AOS_COMPLETE": "complete_bash", "COMP_WORDS": "aos tenants su"}
    result = subprocess.run(
        [sys.executable, "-m", "aos_cli"],
        env={**env, "COMP_CWORD": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.split() == ["suspend"]


def test_show_completion_prints_a_script() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0 and "_aos_completion" in result.output


def test_status_without_a_running_platform_says_so(tmp_path) -> None:
    result = CliRunner().invoke(app, ["status"], env={"AOS_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert f"AOS is not running from {tmp_path}; start it with `aos up`." in result.output
