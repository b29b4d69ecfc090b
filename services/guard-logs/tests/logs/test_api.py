"""GET /api/v1/guard/logs and /api/v1/guard/logs/{log_id} against the real traces service."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from ..conftest import Platform, make_trace, new_tenant, reader, store_trace

LIST_FIELDS = {
    "log_id",
    "run_id",
    "agent_id",
    "status",
    "total_steps",
    "success_count",
    "failure_count",
    "started_at",
    "completed_at",
    "total_duration_ms",
}
STEP_FIELDS = {
    "step_index",
    "skill_name",
    "status",
    "outcome_category",
    "outcome_code",
    "duration_ms",
    "timestamp",
}


@pytest.fixture(scope="module")
async def seeded(platform: Platform) -> dict[str, Any]:
    tenant = new_tenant()
    traces = [
        await store_trace(platform, tenant, make_trace(index, agent_id=f"agent-{index % 2}"))
        for index in range(3)
    ]
    return {"tenant": tenant, "traces": traces}


async def test_list_answers_the_page_shape(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get("/api/v1/guard/logs", headers=reader(seeded["tenant"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "total", "page", "page_size"}
    assert (body["total"], body["page"], body["page_size"]) == (3, 1, 50)
    assert all(set(item) == LIST_FIELDS for item in body["items"])


async def test_list_items_map_run_ids_to_log_ids(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get("/api/v1/guard/logs", headers=reader(seeded["tenant"]))
    items = response.json()["items"]
    assert {item["run_id"] for item in items} == {trace["run_id"] for trace in seeded["traces"]}
    for item in items:
        assert item["log_id"] == "log_" + item["run_id"].removeprefix("run_")


async def test_list_counts_steps(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get("/api/v1/guard/logs", headers=reader(seeded["tenant"]))
    item = response.json()["items"][0]
    assert (item["total_steps"], item["success_count"], item["failure_count"]) == (3, 2, 1)


async def test_list_filters_by_agent(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        "/api/v1/guard/logs", params={"agent_id": "agent-1"}, headers=reader(seeded["tenant"])
    )
    body = response.json()
    assert body["total"] == 1
    assert body["items"][0]["agent_id"] == "agent-1"


async def test_list_pages_with_limit_and_offset(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        "/api/v1/guard/logs", params={"limit": 2, "offset": 2}, headers=reader(seeded["tenant"])
    )
    body = response.json()
    assert (len(body["items"]), body["total"], body["page"], body["page_size"]) == (1, 3, 2, 2)


async def test_list_limit_above_100_is_a_validation_error(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get(
        "/api/v1/guard/logs", params={"limit": 101}, headers=reader(seeded["tenant"])
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_list_needs_credentials(platform: Platform) -> None:
    response = await platform.client.get("/api/v1/guard/logs")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


async def test_list_refuses_another_tenants_id(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        "/api/v1/guard/logs", params={"tenant_id": seeded["tenant"]}, headers=reader(new_tenant())
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Cannot access other tenant's data"


async def test_list_shows_nothing_of_another_tenant(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get("/api/v1/guard/logs", headers=reader(new_tenant()))
    assert response.json()["total"] == 0
    assert response.json()["items"] == []


async def test_list_needs_read_permission(platform: Platform, seeded: dict[str, Any]) -> None:
    from aos_common.testing import principal_headers

    headers = principal_headers(seeded["tenant"], roles=[], permissions=["run:*"])
    response = await platform.client.get("/api/v1/guard/logs", headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission read:logs"


async def test_detail_answers_the_envelope(platform: Platform, seeded: dict[str, Any]) -> None:
    trace = seeded["traces"][0]
    log_id = "log_" + trace["run_id"].removeprefix("run_")
    response = await platform.client.get(
        f"/api/v1/guard/logs/{log_id}", headers=reader(seeded["tenant"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert set(body["meta"]) >= {"timestamp", "request_id"}
    data = body["data"]
    assert set(data) == {
        "log_id",
        "run_id",
        "correlation_id",
        "agent_id",
        "status",
        "started_at",
        "completed_at",
        "steps",
        "total_steps",
        "success_count",
        "failure_count",
        "total_duration_ms",
    }
    assert (data["log_id"], data["run_id"]) == (log_id, trace["run_id"])
    assert [step["step_index"] for step in data["steps"]] == [0, 1, 2]
    assert all(set(step) == STEP_FIELDS for step in data["steps"])
    assert (data["total_steps"], data["success_count"], data["failure_count"]) == (3, 2, 1)
    assert data["total_duration_ms"] == 303


async def test_detail_of_an_unknown_log_is_404(platform: Platform) -> None:
    response = await platform.client.get(
        "/api/v1/guard/logs/log_0000000000000000", headers=reader(new_tenant())
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Log log_0000000000000000 not found or access denied"


async def test_detail_of_another_tenants_log_is_404(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    log_id = "log_" + seeded["traces"][0]["run_id"].removeprefix("run_")
    response = await platform.client.get(
        f"/api/v1/guard/logs/{log_id}", headers=reader(new_tenant())
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"Log {log_id} not found or access denied"


async def test_detail_finds_a_run_id_without_the_run_prefix(platform: Platform) -> None:
    tenant = new_tenant()
    run_id = "nightly-" + secrets.token_hex(4)
    await store_trace(platform, tenant, make_trace(1, run_id=run_id))
    response = await platform.client.get(f"/api/v1/guard/logs/log_{run_id}", headers=reader(tenant))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["run_id"] == run_id


@pytest.mark.parametrize("log_id", ["log_" + "x" * 300, "log_%C3%BC%20%22", "log_", "run_"])
async def test_detail_of_a_malformed_id_is_404(platform: Platform, log_id: str) -> None:
    response = await platform.client.get(
        f"/api/v1/guard/logs/{log_id}", headers=reader(new_tenant())
    )
    assert response.status_code == 404
    assert response.json()["detail"].endswith("not found or access denied")
