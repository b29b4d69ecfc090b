"""schemathesis over every service's OpenAPI, on each service's own port and through the gateway:
no request a client can send gets a 5xx, and every answer matches the schema it declares.

Fixed seed and a bounded number of examples per operation, so a run is reproducible and fits CI
(`-k schemathesis` runs only this; about 4-5 minutes on a loaded 2-core machine). Data are
schema-valid ("positive"): the boundary values of the coverage phase and random ones from the
fuzzing phase, which is where values the database or a reader cannot take come from; invalid
data meet FastAPI's validation and the input limits, which have tests of their own. Internal
routes (`/internal/v1/*`) answer only signed service calls and are left out. A failure prints
schemathesis' own report: each case with a curl line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aos_cli.testing import RunningPlatform

from .conftest import Tenant

SERVICES = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs")
SEED = 20261207
EXAMPLES_PER_OPERATION = 5
GATEWAY_EXAMPLES_PER_OPERATION = 2
CHECKS = "not_a_server_error,response_schema_conformance"


def schemathesis(
    schema_url: str, base_url: str, key: str, report: Path, *, options: list[str]
) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        schema_url,
        "--url",
        base_url,
        "--header",
        f"X-AOS-Key: {key}",
        "--seed",
        str(SEED),
        "--mode",
        "positive",
        *options,
        "--checks",
        CHECKS,
        "--exclude-path-regex",
        "^/internal/",
        "--workers",
        "1",
        "--no-shrink",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=report.parent
    )


def failures(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout
    start = output.find("FAILURES")
    return output[start - 40 :] if start >= 0 else output[-6000:] + result.stderr[-2000:]


@pytest.mark.parametrize("name", SERVICES)
def test_no_5xx_and_schema_conformance_on_the_service_port(
    platform: RunningPlatform, tenant: Tenant, tmp_path: Path, name: str
) -> None:
    base_url = platform.service_urls[name]
    result = schemathesis(
        f"{base_url}/openapi.json",
        base_url,
        tenant.key,
        tmp_path / "junit.xml",
        options=["--phases", "coverage,fuzzing", "--max-examples", str(EXAMPLES_PER_OPERATION)],
    )
    assert result.returncode == 0, failures(result)


@pytest.mark.parametrize("name", SERVICES)
def test_no_5xx_and_schema_conformance_through_the_gateway(
    platform: RunningPlatform, tenant: Tenant, tmp_path: Path, name: str
) -> None:
    """The gateway serves no OpenAPI of its own: it serves the services' public routes, so each
    service's document is run against the gateway's address (auth, limits and proxying included),
    fuzzing only, ASCII strings."""
    result = schemathesis(
        f"{platform.service_urls[name]}/openapi.json",
        platform.gateway_url,
        tenant.key,
        tmp_path / "junit.xml",
        options=[
            "--phases",
            "fuzzing",
            "--max-examples",
            str(GATEWAY_EXAMPLES_PER_OPERATION),
            "--generation-codec",
            "ascii",
        ],
    )
    assert result.returncode == 0, failures(result)
