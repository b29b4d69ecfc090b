"""The hostile inputs of issue 13, each against the running platform: refused with a 4xx and a
sentence at write time, never a 5xx, and never stored in a form that cannot be read back."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from .conftest import Tenant

CONFIG = "/api/v1/workers/code-reviewer/config"
PROBLEM = "application/problem+json"


def assert_refused(response: httpx.Response, statuses: tuple[int, ...] = (400, 422)) -> None:
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"].strip()


def trace(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "trace": {
            "trace_id": "trace_" + secrets.token_hex(8),
            "run_id": "run_" + secrets.token_hex(8),
            "agent_id": "agent-rel",
            "status": "completed",
            "started_at": "2026-01-01T00:00:00+00:00",
            "completed_at": "2026-01-01T00:00:30+00:00",
            "seed": 42,
            "metadata": metadata,
            "steps": [],
        }
    }


def test_max_tokens_per_run_beyond_the_integer_column_is_a_422(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    response = gateway.put(
        CONFIG, json={"max_tokens_per_run": 3_000_000_000}, headers=tenant.headers
    )
    assert_refused(response, (422,))
    assert response.json()["errors"][0]["field"] == "max_tokens_per_run"


def test_a_21_digit_integer_inside_config_is_refused_and_config_stays_readable(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    body = b'{"config": {"depth": 123456789012345678901}}'
    response = gateway.put(
        CONFIG, content=body, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert_refused(response, (422,))
    assert "out of range" in response.json()["detail"]
    assert gateway.get(CONFIG, headers=tenant.headers).status_code == 200


@pytest.mark.parametrize(("text", "status"), [("\\ud800", 422), ("a\\u0000b", 400)])
def test_a_lone_surrogate_or_nul_in_a_config_string_is_refused(
    gateway: httpx.Client, tenant: Tenant, text: str, status: int
) -> None:
    body = ('{"brand": {"name": "' + text + '"}}').encode()
    response = gateway.put(
        CONFIG, content=body, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert_refused(response, (status,))


def test_a_trace_with_a_24_digit_integer_in_metadata_is_refused_at_write(
    service: dict[str, httpx.Client], gateway: httpx.Client, tenant: Tenant
) -> None:
    document = trace({"big": 0})
    raw = httpx.Request("POST", "/", json=document).content.replace(
        b'"big":0', b'"big":123456789012345678901234'
    )
    assert b"123456789012345678901234" in raw
    response = gateway.post(
        "/api/v1/traces",
        content=raw,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert_refused(response, (422,))
    run_id = document["trace"]["run_id"]
    assert gateway.get(f"/api/v1/traces/{run_id}", headers=tenant.headers).status_code == 404
    listed = gateway.get("/api/v1/traces", headers=tenant.headers)
    assert listed.status_code == 200


def test_an_audit_after_state_nested_300_deep_is_refused(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    state: dict[str, Any] = {}
    for _ in range(300):
        state = {"a": state}
    entry = {
        "event_type": "LimitCreated",
        "entity_type": "LIMIT",
        "entity_id": "limit-rel",
        "after_state": state,
    }
    response = gateway.post("/api/v1/audit/entries", json=entry, headers=tenant.headers)
    assert_refused(response, (422,))
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("name", ["tenants", "traces", "cost-intel", "audit-ledger", "guard-logs"])
def test_every_service_port_refuses_a_body_over_the_common_limit(
    service: dict[str, httpx.Client], name: str
) -> None:
    from aos_common.input_limits import MAX_BODY_BYTES

    response = service[name].post(
        "/api/v1/anything",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert_refused(response, (413,))


def test_the_traces_ingest_routes_take_the_larger_ingest_limit(
    service: dict[str, httpx.Client], tenant: Tenant
) -> None:
    from aos_common.input_limits import MAX_BODY_BYTES

    response = service["traces"].post(
        "/api/v1/traces/batch",
        content=b"[" + b" " * (MAX_BODY_BYTES + 1) + b"]",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code != 413
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    "query", ["offset=1000000001", "agent_id=%00"], ids=["deep-offset", "nul-filter"]
)
def test_guard_logs_answers_a_4xx_for_what_its_peers_refuse(
    gateway: httpx.Client, tenant: Tenant, query: str
) -> None:
    response = gateway.get(f"/api/v1/guard/logs?{query}", headers=tenant.headers)
    assert_refused(response)


def test_guard_logs_json_export_with_a_nul_filter_is_a_problem(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    response = gateway.get(
        "/api/v1/guard/logs/export?agent_id=%00&format=json", headers=tenant.headers
    )
    assert_refused(response, (400,))
