"""/api/v1/logs/*: llm-runs, audit and exports, against the real peers."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import Platform, make_trace, new_tenant, reader, store_trace


@pytest.fixture(scope="module")
async def seeded(platform: Platform) -> dict[str, Any]:
    tenant = new_tenant()
    traces = [await store_trace(platform, tenant, make_trace(index)) for index in range(2)]
    return {"tenant": tenant, "traces": traces}


async def test_llm_runs_is_a_paginated_envelope(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        "/api/v1/logs/llm-runs", params={"limit": 1}, headers=reader(seeded["tenant"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["total"] == 2
    assert (body["meta"]["page"], body["meta"]["page_size"], body["meta"]["has_more"]) == (
        1,
        1,
        True,
    )
    assert body["data"][0]["log_id"].startswith("log_")


async def test_llm_run_has_steps_costs_and_replay_window(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    run_id = seeded["traces"][0]["run_id"]
    response = await platform.client.get(
        f"/api/v1/logs/llm-runs/{run_id}", headers=reader(seeded["tenant"])
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["run_id"] == run_id
    assert [step["step_index"] for step in data["steps"]] == [0, 1, 2]
    assert set(data["costs"]) == {"records", "total_cost_cents"}
    window = data["replay_window"]
    assert (window["seed"], window["first_step_index"], window["last_step_index"]) == (42, 0, 2)
    assert window["root_hash"]


async def test_llm_run_of_another_tenant_is_404(platform: Platform, seeded: dict[str, Any]) -> None:
    run_id = seeded["traces"][0]["run_id"]
    response = await platform.client.get(
        f"/api/v1/logs/llm-runs/{run_id}", headers=reader(new_tenant())
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"Run {run_id} not found or access denied"


async def test_llm_runs_show_nothing_of_another_tenant(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get("/api/v1/logs/llm-runs", headers=reader(new_tenant()))
    assert response.json()["meta"]["total"] == 0


async def test_audit_is_the_tenants_ledger_page(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        "/api/v1/logs/audit", params={"limit": 5}, headers=reader(seeded["tenant"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert {"total", "page", "page_size", "has_more"} <= set(body["meta"])


async def test_audit_refuses_another_tenants_id(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        "/api/v1/logs/audit", params={"tenant_id": seeded["tenant"]}, headers=reader(new_tenant())
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Cannot access other tenant's data"


async def test_exports_history_lists_the_tenants_exports_newest_first(
    platform: Platform,
) -> None:
    tenant = new_tenant()
    headers = reader(tenant)
    first = await platform.client.get(
        "/api/v1/guard/logs/export", params={"format": "csv"}, headers=headers
    )
    second = await platform.client.get(
        "/api/v1/guard/logs/export", params={"format": "ndjson"}, headers=headers
    )
    response = await platform.client.get("/api/v1/logs/exports", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["total"] == 2
    assert [item["id"] for item in body["data"]] == [
        second.headers["x-export-id"],
        first.headers["x-export-id"],
    ]


async def test_exports_history_shows_nothing_of_another_tenant(platform: Platform) -> None:
    tenant = new_tenant()
    await platform.client.get("/api/v1/guard/logs/export", headers=reader(tenant))
    response = await platform.client.get("/api/v1/logs/exports", headers=reader(new_tenant()))
    assert response.json()["meta"]["total"] == 0


async def test_export_record_of_another_tenant_is_404(platform: Platform) -> None:
    tenant = new_tenant()
    export = await platform.client.get("/api/v1/guard/logs/export", headers=reader(tenant))
    export_id = export.headers["x-export-id"]
    response = await platform.client.get(
        f"/api/v1/logs/exports/{export_id}", headers=reader(new_tenant())
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"Export {export_id} not found or access denied"
