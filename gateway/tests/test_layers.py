"""The gateway's modules import only the layers below them (the contract in gateway/pyproject.toml:
app -> state -> reload -> runtime -> middlewares -> proxy -> configuration)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[1]


def test_gateway_modules_import_only_downward() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--config", str(GATEWAY / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
