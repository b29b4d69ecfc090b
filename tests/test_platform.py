"""`aos up` end to end: six processes, readiness, the credentials file, `aos status`, Ctrl-C."""

from __future__ import annotations

import stat
import subprocess

import httpx
import pytest

from aos_cli.testing import RunningPlatform, alive, aos_command
from aos_common.services import GATEWAY, SERVICES

PROCESS_NAMES = {spec.name for spec in (*SERVICES, GATEWAY)}


def test_up_runs_the_five_services_and_the_gateway_as_six_processes(
    platform: RunningPlatform,
) -> None:
    pids = platform.child_pids
    assert set(pids) == PROCESS_NAMES
    assert len(set(pids.values())) == 6
    assert alive(set(pids.values())) == set(pids.values())


def test_gateway_readyz_answers_200(platform: RunningPlatform) -> None:
    response = httpx.get(platform.gateway_url + "/readyz", timeout=5)
    assert response.status_code == 200
    assert platform.ready_after_seconds < 60


def test_every_service_answers_health_readiness_and_metrics(platform: RunningPlatform) -> None:
    for name, url in platform.service_urls.items():
        for path in ("/healthz", "/readyz", "/metrics"):
            response = httpx.get(url + path, timeout=5)
            assert response.status_code == 200, (name, path, response.text)


def test_credentials_file_is_private_and_has_the_documented_shape(
    platform: RunningPlatform,
) -> None:
    assert stat.S_IMODE(platform.credentials_path.stat().st_mode) == 0o600
    credentials = platform.credentials
    assert set(credentials) == {
        "gateway_url",
        "services",
        "operator_key",
        "tenant_id",
        "admin_key",
        "console_token",
        "otlp_grpc_endpoint",
    }
    assert credentials["otlp_grpc_endpoint"].count(":") == 1
    assert set(credentials["services"]) == PROCESS_NAMES - {"gateway"}
    assert credentials["operator_key"].startswith("aos_op_")
    assert len(credentials["operator_key"]) == len("aos_op_") + 40


def test_status_reports_every_process_ready(platform: RunningPlatform) -> None:
    result = subprocess.run(
        aos_command("status"), env=platform.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in PROCESS_NAMES:
        assert name in result.stdout
    assert "not ready" not in result.stdout


def test_second_up_on_the_same_data_is_refused_while_running(platform: RunningPlatform) -> None:
    result = subprocess.run(
        aos_command("up"), env=platform.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "already running" in line
    ]


@pytest.mark.platform_shutdown
def test_ctrl_c_stops_every_process_it_started(platform: RunningPlatform) -> None:
    pids = platform.all_known_pids()
    assert set(platform.child_pids.values()) <= pids

    exit_code = platform.interrupt(timeout=60)

    assert exit_code == 0, platform.output()
    assert alive(pids) == set()
    assert not (platform.data_dir / "run.json").exists()


def test_aos_token_mints_a_console_token_the_platform_accepts(platform: RunningPlatform) -> None:
    tenant_id = platform.credentials["tenant_id"]
    if tenant_id is None:
        pytest.skip("the tenants package has no bootstrap_demo")
    env = {k: v for k, v in platform.env.items() if k != "AOS_JWT_SECRET"}
    minted = subprocess.run(
        aos_command("token", "--tenant-id", tenant_id),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert minted.returncode == 0, minted.stderr
    response = httpx.get(
        platform.gateway_url + "/api/v1/tenant",
        headers={"Authorization": f"Bearer {minted.stdout.strip()}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
