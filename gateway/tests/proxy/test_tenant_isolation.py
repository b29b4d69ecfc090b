"""No tenant can take an API area down for the others (issue 13), through a real gateway in front
of the five real services: errors one tenant's input provokes stay that tenant's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gateway_testing.real import Real, new_tenant


@pytest.fixture(scope="module")
def victim(real: Real) -> dict[str, Any]:
    return new_tenant(real, "Victim")


@pytest.fixture(scope="module")
def attacker(real: Real) -> dict[str, Any]:
    return new_tenant(real, "Attacker")


def _key(tenant: dict[str, Any]) -> dict[str, str]:
    return {"X-AOS-Key": tenant["initial_api_key"]["key"]}


def test_errors_one_tenant_provokes_leave_the_area_open_for_another(
    real: Real, victim: dict[str, Any], attacker: dict[str, Any]
) -> None:
    with httpx.Client(base_url=real.url, timeout=30) as client:
        assert client.get("/api/v1/guard/logs", headers=_key(victim)).status_code == 200
        provoked = [
            client.get("/api/v1/guard/logs?agent_id=%00", headers=_key(attacker)).status_code
            for _ in range(20)
        ]
        served = client.get("/api/v1/guard/logs", headers=_key(victim))
    assert served.status_code == 200, (provoked, served.text)
    assert "x-aos-circuit" not in served.headers
