"""The shipped dynamic.yml, served by a real gateway process to five real upstream processes."""

from __future__ import annotations

import httpx
import pytest
from gateway_testing.stacks import SECRET, Stack

GOOD = {"X-AOS-Key": "aos_good"}


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("GET", "/api/v1/tenant", "tenants"),
        ("POST", "/api/v1/tenants", "tenants"),
        ("GET", "/api/v1/tenant/api-keys", "tenants"),
        ("GET", "/api/v1/workers/available", "tenants"),
        ("POST", "/api/v1/runs", "tenants"),
        ("PATCH", "/api/v1/runs/run_0123456789abcdef", "tenants"),
        ("GET", "/api/v1/traces", "traces"),
        ("POST", "/api/v1/traces/batch", "traces"),
        ("POST", "/v1/traces", "traces"),
        ("GET", "/api/v1/cost/dashboard", "cost-intel"),
        ("POST", "/api/v1/cost/record", "cost-intel"),
        ("GET", "/api/v1/audit/tree-head", "audit-ledger"),
        ("GET", "/api/v1/guard/logs", "guard-logs"),
        ("GET", "/api/v1/logs/llm-runs", "guard-logs"),
    ],
)
def test_every_public_prefix_reaches_its_service(
    platform: Stack, method: str, path: str, service: str
) -> None:
    response = httpx.request(method, platform.url + path + "?x=1", headers=GOOD, json={})
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert (echoed["service"], echoed["path"], echoed["query"]) == (service, path, "x=1")
    assert echoed["headers"]["x-aos-tenant-id"] == "tnt_a"


def test_health_route_needs_no_credentials(platform: Stack) -> None:
    response = httpx.get(platform.url + "/api/v1/tenant/health")
    assert response.status_code == 200
    assert response.json()["service"] == "tenants"


def test_internal_routes_are_not_reachable_through_the_gateway(platform: Stack) -> None:
    response = httpx.get(platform.url + "/internal/v1/auth/forward", headers=GOOD)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_missing_credentials_get_the_401_of_forward_auth(platform: Stack) -> None:
    response = httpx.get(platform.url + "/api/v1/traces")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


def test_unknown_key_gets_invalid_api_key(platform: Stack) -> None:
    response = httpx.get(platform.url + "/api/v1/traces", headers={"X-AOS-Key": "aos_nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key"


def test_forward_auth_403_is_passed_to_the_client(platform: Stack) -> None:
    response = httpx.get(
        platform.url + "/api/v1/cost/summary", headers={"X-AOS-Key": "aos_forbidden"}
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Tenant is suspended"


def test_per_key_rate_limit_answers_429_with_retry_after(platform: Stack) -> None:
    headers = {"X-AOS-Key": "aos_limited"}
    statuses = [
        httpx.get(platform.url + "/api/v1/audit/entries", headers=headers) for _ in range(4)
    ]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    limited = statuses[3]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["detail"] == "API key rate limit exceeded (3 requests per minute)"


def test_budget_marked_route_refuses_an_exhausted_tenant_with_402(platform: Stack) -> None:
    response = httpx.post(
        platform.url + "/api/v1/runs", headers={"X-AOS-Key": "aos_broke"}, json={"worker_id": "w"}
    )
    assert response.status_code == 402
    body = response.json()
    assert body["detail"] == "Budget exhausted: cb_0123456789abcdef"
    assert body["budget_id"] == "cb_0123456789abcdef"


def test_budget_is_not_checked_on_unmarked_routes(platform: Stack) -> None:
    response = httpx.get(platform.url + "/api/v1/runs", headers={"X-AOS-Key": "aos_broke"})
    assert response.status_code == 200


def test_client_sent_context_headers_never_reach_a_service(platform: Stack) -> None:
    forged = {
        "X-AOS-Context": "forged",
        "X-AOS-Context-Signature": "0" * 64,
        "X-AOS-Tenant-Id": "tnt_other",
        "X-AOS-Internal-Secret": "guess",
    }
    response = httpx.get(platform.url + "/api/v1/tenant/health", headers=forged)
    seen = response.json()["headers"]
    assert not [name for name in seen if name.startswith("x-aos-")]


def test_context_reaching_a_service_is_signed_by_the_gateway(platform: Stack) -> None:
    from aos_common.auth import verify_context

    seen = httpx.get(platform.url + "/api/v1/traces", headers=GOOD).json()["headers"]
    principal = verify_context(seen["x-aos-context"], seen["x-aos-context-signature"], SECRET)
    assert (principal.tenant_id, principal.key_id) == ("tnt_a", "key_good")


def test_readyz_checks_configuration_and_redis_and_reports_every_upstream(
    platform: Stack,
) -> None:
    response = httpx.get(platform.url + "/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"configuration": "ok", "redis": "ok"}
    assert response.json()["upstreams"] == {
        "tenants": "up",
        "traces": "up",
        "cost-intel": "up",
        "audit-ledger": "up",
        "guard-logs": "up",
    }


def test_metrics_count_proxied_requests(platform: Stack) -> None:
    httpx.get(platform.url + "/api/v1/tenant/health")
    text = httpx.get(platform.url + "/metrics").text
    assert (
        'aos_gateway_requests_total{router="tenants-health",service="tenants",status="200"}' in text
    )


def test_console_is_served_at_the_root(platform: Stack) -> None:
    response = httpx.get(platform.url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
