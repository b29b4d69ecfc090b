"""The reliability suite runs against the platform `aos up` started for tests/ (tests/conftest.py):
real service processes on free ports, real PostgreSQL and Redis. Two fresh tenants per module."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from aos_cli.testing import RunningPlatform


@dataclass(frozen=True)
class Tenant:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-AOS-Key": self.key}


@pytest.fixture(scope="module")
def gateway(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def service(platform: RunningPlatform) -> Iterator[dict[str, httpx.Client]]:
    """A client per service port, by service name."""
    clients = {
        name: httpx.Client(base_url=url, timeout=30.0, trust_env=False)
        for name, url in platform.service_urls.items()
    }
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def create_tenant(platform: RunningPlatform, gateway: httpx.Client) -> Tenant:
    operator = {"X-AOS-Key": platform.credentials["operator_key"]}
    name = f"rel-{secrets.token_hex(4)}"
    response = gateway.post("/api/v1/tenants", json={"name": name}, headers=operator)
    assert response.status_code == 201, response.text
    body = response.json()
    return Tenant(id=body["id"], key=body["initial_api_key"]["key"])


@pytest.fixture(scope="module")
def tenant(platform: RunningPlatform, gateway: httpx.Client) -> Tenant:
    return create_tenant(platform, gateway)
