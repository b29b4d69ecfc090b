"""The console's own checks: the typed client is generated from the current contract, the
TypeScript compiles against it, and the Vitest unit tests (money, periods, permissions) pass."""

from __future__ import annotations

import json
import subprocess
import sys

from aos_cli.console_build import CONSOLE_DIR, NodeTools
from aos_gateway.openapi import merge_openapi, service_documents


def _npm(tools: NodeTools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tools.npm, *args], cwd=CONSOLE_DIR, capture_output=True, text=True, timeout=600
    )


def test_the_checked_in_openapi_document_is_the_merge_of_the_services() -> None:
    merged = merge_openapi(service_documents(), version="0.1.0")
    checked_in = json.loads((CONSOLE_DIR / "openapi.json").read_text())
    assert checked_in == merged, "console/openapi.json is stale: run `npm run gen:api` in console/"


def test_the_generated_client_types_are_current(
    node_tools: NodeTools, console_dist: object
) -> None:
    result = subprocess.run(
        [str(node_tools.node), "scripts/gen-api.mjs", "--check"],
        cwd=CONSOLE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        env={"AOS_PYTHON": sys.executable, "PATH": str(node_tools.node.parent)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_console_type_checks_against_the_generated_client(
    node_tools: NodeTools, console_dist: object
) -> None:
    result = _npm(node_tools, "run", "typecheck")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_vitest_unit_tests_pass(node_tools: NodeTools, console_dist: object) -> None:
    result = _npm(node_tools, "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout.lower().split("tests")[-1]
