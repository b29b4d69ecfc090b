"""Through a real gateway process to the five real services (real processes on real Postgres and
Redis): routing of every prefix, forward-auth by the tenants service, scoped keys, per-key rate
limits, revocation, and request ids that reach the service's own envelope."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest
from gateway_testing.real import OPERATOR_KEY, PACKAGES, Real, new_tenant


@pytest.fixture(scope="module")
def tenant(real: Real) -> dict[str, Any]:
    return new_tenant(real)


def _key(real: Real, tenant: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = httpx.post(
        real.url + "/api/v1/tenant/api-keys",
        json={"name": "gw", **body},
        headers={"X-AOS-Key": tenant["initial_api_key"]["key"]},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_tenant_key_reaches_the_tenants_service_through_forward_auth(
    real: Real, tenant: dict[str, Any]
) -> None:
    response = httpx.get(
        real.url + "/api/v1/tenant", headers={"X-AOS-Key": tenant["initial_api_key"]["key"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == tenant["id"]


def test_unknown_key_is_refused_by_the_real_forward_auth(real: Real) -> None:
    response = httpx.get(real.url + "/api/v1/traces", headers={"X-AOS-Key": "aos_" + "x" * 43})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key"
    assert response.json()["instance"] == "/api/v1/traces"
    assert "/internal" not in response.text


def test_missing_permission_is_a_403_from_the_service_behind_the_gateway(
    real: Real, tenant: dict[str, Any]
) -> None:
    reader = _key(real, tenant, permissions=["read:*"])
    response = httpx.post(
        real.url + "/api/v1/tenant/api-keys",
        json={"name": "x"},
        headers={"X-AOS-Key": reader["key"]},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission keys:create"


def test_key_rate_limit_rpm_is_enforced_at_the_gateway(real: Real, tenant: dict[str, Any]) -> None:
    limited = _key(real, tenant, rate_limit_rpm=2)
    headers = {"X-AOS-Key": limited["key"]}
    statuses = [httpx.get(real.url + "/api/v1/tenant", headers=headers) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["retry-after"]) >= 1


def test_revoked_key_stops_working_through_the_gateway_within_5_seconds(
    real: Real, tenant: dict[str, Any]
) -> None:
    key = _key(real, tenant)
    headers = {"X-AOS-Key": key["key"]}
    for _ in range(3):  # the grant is now in the gateway's cache
        assert httpx.get(real.url + "/api/v1/tenant", headers=headers).status_code == 200
    revoked = httpx.delete(
        real.url + f"/api/v1/tenant/api-keys/{key['id']}",
        headers={"X-AOS-Key": tenant["initial_api_key"]["key"]},
    )
    assert revoked.status_code == 200, revoked.text
    deadline = time.monotonic() + 5
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = httpx.get(real.url + "/api/v1/tenant", headers=headers).status_code
        time.sleep(0.1)
    assert status == 401


def _direct_usage(real: Real, key: str) -> tuple[int, int]:
    """(tenant api_calls, the key's total_requests), read from the tenants service directly: a
    direct call is authenticated by the service itself and is not metered."""
    headers = {"X-AOS-Key": key}
    usage = httpx.get(real.tenants.url + "/api/v1/tenant/usage?period=24h", headers=headers).json()
    keys = httpx.get(real.tenants.url + "/api/v1/tenant/api-keys", headers=headers).json()
    total = sum(item["total_requests"] for item in keys)
    return int(usage["meters"]["api_calls"]["total"]), int(total)


def test_api_calls_are_metered_exactly_once_with_the_grant_cache_on(real: Real) -> None:
    created = httpx.post(
        real.url + "/api/v1/tenants",
        json={"name": f"Metered {secrets.token_hex(3)}"},
        headers={"X-AOS-Key": OPERATOR_KEY},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    key = created.json()["initial_api_key"]["key"]
    sent = 0
    with httpx.Client(base_url=real.url, headers={"X-AOS-Key": key}, timeout=30) as client:
        for burst in range(2):  # the pause outlives the 2 s grant: misses and hits both
            for _ in range(15):
                assert client.get("/api/v1/tenant").status_code == 200
                sent += 1
            if burst == 0:
                time.sleep(2.2)
    deadline = time.monotonic() + 15
    counted = _direct_usage(real, key)
    while counted != (sent, sent) and time.monotonic() < deadline:
        time.sleep(0.2)
        counted = _direct_usage(real, key)
    assert counted == (sent, sent)
    time.sleep(2.5)  # later reports and write-backs must not count anything twice
    assert _direct_usage(real, key) == (sent, sent)


def test_tenants_keys_never_see_each_others_tenant_through_the_cache(
    real: Real, tenant: dict[str, Any]
) -> None:
    other = httpx.post(
        real.url + "/api/v1/tenants",
        json={"name": f"Other {secrets.token_hex(3)}"},
        headers={"X-AOS-Key": OPERATOR_KEY},
        timeout=30,
    )
    assert other.status_code == 201, other.text
    pairs = [
        (tenant["initial_api_key"]["key"], tenant["id"]),
        (other.json()["initial_api_key"]["key"], other.json()["id"]),
    ]
    with httpx.Client(base_url=real.url, timeout=30) as client:
        for _ in range(5):
            for key, tenant_id in pairs:
                response = client.get("/api/v1/tenant", headers={"X-AOS-Key": key})
                assert response.status_code == 200 and response.json()["id"] == tenant_id


def test_trace_round_trip_and_request_id_reach_the_traces_envelope(
    real: Real, tenant: dict[str, Any]
) -> None:
    headers = {"X-AOS-Key": tenant["initial_api_key"]["key"], "X-Request-ID": "req-gateway0001"}
    run_id = f"run_{secrets.token_hex(8)}"
    trace = {
        "run_id": run_id,
        "agent_id": "agent-gw",
        "status": "completed",
        "steps": [{"step_index": 0, "skill_id": "s", "skill_name": "search", "status": "success"}],
    }
    stored = httpx.post(real.url + "/api/v1/traces", json=trace, headers=headers, timeout=30)
    assert stored.status_code == 201, stored.text
    assert stored.headers["x-request-id"] == "req-gateway0001"
    assert stored.json()["meta"]["request_id"] == "req-gateway0001"
    fetched = httpx.get(real.url + f"/api/v1/traces/{run_id}", headers=headers)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["tenant_id"] == tenant["id"]


def test_readyz_sees_the_real_services(real: Real) -> None:
    response = httpx.get(real.url + "/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["upstreams"] == dict.fromkeys(PACKAGES, "up")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tenant/usage?period=7d",
        "/api/v1/workers",
        "/api/v1/runs",
        "/api/v1/traces/summary",
        "/api/v1/cost/summary?period=24h",
        "/api/v1/audit/tree-head",
        "/api/v1/guard/logs",
        "/api/v1/logs/exports",
    ],
)
def test_every_prefix_reaches_its_real_service(
    real: Real, tenant: dict[str, Any], path: str
) -> None:
    response = httpx.get(
        real.url + path, headers={"X-AOS-Key": tenant["initial_api_key"]["key"]}, timeout=30
    )
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
