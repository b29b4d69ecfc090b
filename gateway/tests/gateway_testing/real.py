"""The five real services (real processes on real Postgres and Redis) behind a real gateway process
serving the shipped dynamic.yml: the `real` fixture of gateway/tests/proxy/conftest.py."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from aos_common.testing import migrate
from gateway_testing.processes import DYNAMIC_YML, Process, clean_env, free_port, gateway
from gateway_testing.stacks import SECRET

OPERATOR_KEY = "aos_op_" + "g" * 40
PACKAGES = {
    "tenants": "aos_tenants",
    "traces": "aos_traces",
    "cost-intel": "aos_cost_intel",
    "audit-ledger": "aos_audit_ledger",
    "guard-logs": "aos_guard_logs",
}


@dataclass
class Real:
    gateway: Process
    tenants: Process
    traces: Process
    services: dict[str, Process] = field(default_factory=dict)
    gateway_env: dict[str, str] = field(default_factory=dict)  # to start another gateway like it

    @property
    def url(self) -> str:
        return self.gateway.url


def _service(app: str, env: dict[str, str], log: Path) -> Process:
    return Process(app, free_port(), clean_env(env), factory=True, log=log)


def _wait_for_upstreams(gateway_url: str, timeout: float) -> None:
    """The gateway's /readyz leaves upstreams out; its routes answer 503 until its health checks
    have seen each service up (every 5 s), so wait for that before the first test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            upstreams = httpx.get(gateway_url + "/readyz", timeout=2.0).json().get("upstreams")
            if upstreams and all(state == "up" for state in upstreams.values()):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the gateway did not see every upstream up within {timeout:g} s")


@contextmanager
def real_platform(database_url: str, redis_url: str, logs: Path) -> Iterator[Real]:
    for package in PACKAGES.values():
        migrate(package, database_url)
    common = {
        "AOS_ENVIRONMENT": "test",
        "AOS_DATABASE_URL": database_url,
        "AOS_REDIS_URL": redis_url,
        "AOS_INTERNAL_SECRET": SECRET,
        "AOS_OPERATOR_KEY": OPERATOR_KEY,
        "AOS_TELEMETRY_ENABLED": "false",
        "AOS_DATA_DIR": str(logs / "data"),
    }
    services = {
        name: _service(f"{package}.main:create_app", common, logs / f"{name}.log")
        for name, package in PACKAGES.items()
    }
    urls = {f"AOS_{name.upper().replace('-', '_')}_URL": s.url for name, s in services.items()}
    for service in services.values():
        service.env.update(urls)
    gateway_env = {
        **common,
        **urls,
        "AOS_GATEWAY_REDIS_PREFIX": f"aos:gwtest:{secrets.token_hex(4)}",
    }
    proxy = gateway(DYNAMIC_YML, logs, gateway_env, name="real-gateway")
    processes = [*services.values(), proxy]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=300)  # six imports at once on a busy machine
        proxy.wait_ready("/readyz", timeout=30)
        _wait_for_upstreams(proxy.url, timeout=60)
        yield Real(proxy, services["tenants"], services["traces"], services, gateway_env)
    finally:
        for process in processes:
            process.stop()


def new_tenant(real: Real, name: str = "Gateway") -> dict[str, Any]:
    """A tenant created through the gateway with the operator key; carries its initial key."""
    response = httpx.post(
        real.url + "/api/v1/tenants",
        json={"name": f"{name} {secrets.token_hex(3)}"},
        headers={"X-AOS-Key": OPERATOR_KEY},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())
