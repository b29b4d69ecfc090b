"""Mismatch reporting, listing, resolution and bulk reports, with notifications sent to a local
HTTP server standing in for GitHub or a webhook receiver (never the internet)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from aos_common.testing import app_client
from aos_traces.main import create_app

from .support import LocalServer, Tenant, make_trace, store, traces_settings

REPORT = {
    "step_index": 1,
    "reason": "output_mismatch",
    "expected_hash": "aaaa1111",
    "actual_hash": "bbbb2222",
    "details": {"note": "drift"},
}


@asynccontextmanager
async def app_with(
    database_url: str, redis_url: str, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(traces_settings(database_url, redis_url, **settings))
    async with app_client(app) as client:
        yield client


async def report(client: httpx.AsyncClient, tenant: Tenant, trace_id: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/traces/{trace_id}/mismatch", json=REPORT, headers=tenant.developer
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_report_without_channels_is_recorded_and_not_notified(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace())
    result = await report(client, tenant, stored["trace_id"])
    assert result["status"] == "recorded" and result["notified"] == "none"
    assert result["trace_id"] == stored["trace_id"] and "issue_url" not in result
    assert uuid.UUID(result["mismatch_id"]).version == 4


async def test_report_opens_a_github_issue_when_configured(
    database_url: str, redis_url: str, tenant: Tenant, local_server: LocalServer
) -> None:
    async with app_with(
        database_url,
        redis_url,
        github_token="ghs_test",
        github_repo="o/r",
        github_api_url=local_server.url,
        mismatch_webhook=f"{local_server.url}/hook",
    ) as client:
        stored = await store(client, tenant, make_trace())
        before = len(local_server.requests)
        result = await report(client, tenant, stored["trace_id"])
        assert result["notified"] == "github"
        assert result["issue_url"].startswith("https://github.example/o/r/issues/")
        sent = local_server.requests[before]
        assert sent["path"] == "/repos/o/r/issues"
        assert sent["headers"]["Authorization"] == "Bearer ghs_test"
        assert sent["body"]["title"] == f"[Replay Mismatch] trace:{stored['trace_id']} step:1"
        assert "replay-mismatch" in sent["body"]["labels"]
        listed = (
            await client.get(
                f"/api/v1/traces/{stored['trace_id']}/mismatches", headers=tenant.viewer
            )
        ).json()["data"]
        assert listed["mismatches"][0]["notification_sent"] is True
        assert listed["mismatches"][0]["issue_url"] == result["issue_url"]


async def test_report_posts_the_webhook_without_github(
    database_url: str, redis_url: str, tenant: Tenant, local_server: LocalServer
) -> None:
    async with app_with(
        database_url, redis_url, mismatch_webhook=f"{local_server.url}/hook"
    ) as client:
        stored = await store(client, tenant, make_trace())
        before = len(local_server.requests)
        result = await report(client, tenant, stored["trace_id"])
        assert result["notified"] == "webhook" and "issue_url" not in result
        sent = local_server.requests[before]
        assert sent["path"] == "/hook"
        assert sent["body"]["trace_id"] == stored["trace_id"]
        assert sent["body"]["reason"] == "output_mismatch"


async def test_unreachable_github_falls_back_to_none(
    database_url: str, redis_url: str, tenant: Tenant
) -> None:
    async with app_with(
        database_url,
        redis_url,
        github_token="t",
        github_repo="o/r",
        github_api_url="http://127.0.0.1:9",
        notification_timeout_seconds=1.0,
    ) as client:
        stored = await store(client, tenant, make_trace())
        assert (await report(client, tenant, stored["trace_id"]))["notified"] == "none"


async def test_report_on_unknown_trace_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/traces/trace_nope/mismatch", json=REPORT, headers=tenant.admin
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Trace trace_nope not found"


async def test_report_validation_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, make_trace())
    response = await client.post(
        f"/api/v1/traces/{stored['trace_id']}/mismatch", json={"reason": "x"}, headers=tenant.admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "step_index"


async def test_trace_mismatch_list_shape(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, make_trace())
    await report(client, tenant, stored["trace_id"])
    body = (
        await client.get(f"/api/v1/traces/{stored['trace_id']}/mismatches", headers=tenant.viewer)
    ).json()
    assert body["success"] is True
    data = body["data"]
    assert data["trace_id"] == stored["trace_id"] and data["total"] == 1
    assert set(data["mismatches"][0]) == {
        "mismatch_id",
        "step_index",
        "reason",
        "expected_hash",
        "actual_hash",
        "details",
        "notification_sent",
        "issue_url",
        "resolved",
        "resolved_at",
        "resolved_by",
        "created_at",
    }


async def test_resolve_requires_admin_and_marks_resolved(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace())
    mismatch = await report(client, tenant, stored["trace_id"])
    path = f"/api/v1/traces/{stored['trace_id']}/mismatches/{mismatch['mismatch_id']}/resolve"
    denied = await client.post(path, headers=tenant.developer)
    assert denied.status_code == 403
    resolved = await client.post(path, params={"resolution_note": "fixed"}, headers=tenant.admin)
    assert resolved.status_code == 200
    assert resolved.json() == {
        "status": "resolved",
        "mismatch_id": mismatch["mismatch_id"],
        "resolved_by": "user_test",
    }
    listed = (
        await client.get(f"/api/v1/traces/{stored['trace_id']}/mismatches", headers=tenant.admin)
    ).json()["data"]["mismatches"][0]
    assert listed["resolved"] is True and listed["resolved_by"] == "user_test"


async def test_resolve_unknown_mismatch_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    stored = await store(client, tenant, make_trace())
    for mismatch_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = await client.post(
            f"/api/v1/traces/{stored['trace_id']}/mismatches/{mismatch_id}/resolve",
            headers=tenant.admin,
        )
        assert response.status_code == 404
        assert response.json()["detail"] == "Mismatch not found"


async def test_window_list_with_summary_and_status_filter(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stored = await store(client, tenant, make_trace())
    first = await report(client, tenant, stored["trace_id"])
    await report(client, tenant, stored["trace_id"])
    await client.post(
        f"/api/v1/traces/{stored['trace_id']}/mismatches/{first['mismatch_id']}/resolve",
        headers=tenant.admin,
    )
    body = (await client.get("/api/v1/traces/mismatches", headers=tenant.viewer)).json()
    assert body["success"] is True
    data = body["data"]
    assert data["summary"] == {"open": 1, "resolved": 1}
    assert data["window"] == "24h" and data["total"] == 2
    open_only = (
        await client.get(
            "/api/v1/traces/mismatches",
            params={"status": "open", "window": "7d", "limit": 500},
            headers=tenant.viewer,
        )
    ).json()["data"]
    assert open_only["total"] == 1 and len(open_only["mismatches"]) == 1
    assert (
        await client.get("/api/v1/traces/mismatches", params={"limit": 501}, headers=tenant.viewer)
    ).status_code == 422
    assert (
        await client.get(
            "/api/v1/traces/mismatches", params={"window": "1y"}, headers=tenant.viewer
        )
    ).status_code == 422


async def test_bulk_report_links_mismatches_to_one_issue(
    database_url: str, redis_url: str, tenant: Tenant, local_server: LocalServer
) -> None:
    async with app_with(
        database_url,
        redis_url,
        github_token="t",
        github_repo="o/r",
        github_api_url=local_server.url,
    ) as client:
        one = await store(client, tenant, make_trace())
        two = await store(client, tenant, make_trace())
        ids = [
            (await report(client, tenant, trace["trace_id"]))["mismatch_id"]
            for trace in (one, one, two)
        ]
        before = len(local_server.requests)
        response = await client.post(
            "/api/v1/traces/mismatches/bulk-report",
            params={"mismatch_ids": ",".join(ids[:2]), "github_issue": "true"},
            headers=tenant.admin,
        )
        assert response.status_code == 200, response.text
        repeated = await client.post(
            "/api/v1/traces/mismatches/bulk-report",
            params=[("mismatch_ids", ids[0]), ("mismatch_ids", ids[2])],
            headers=tenant.admin,
        )
        body = response.json()
        assert body["linked_count"] == 2 and body["traces_affected"] == 1
        assert body["issue_url"].startswith("https://github.example/")
        assert sorted(body["mismatch_ids"]) == sorted(ids[:2])
        assert local_server.requests[before]["body"]["title"].startswith("[Replay Mismatches] 2")
        assert repeated.json()["traces_affected"] == 2


async def test_bulk_report_errors(client: httpx.AsyncClient, tenant: Tenant) -> None:
    denied = await client.post(
        "/api/v1/traces/mismatches/bulk-report",
        params={"mismatch_ids": str(uuid.uuid4())},
        headers=tenant.developer,
    )
    assert denied.status_code == 403
    missing = await client.post(
        "/api/v1/traces/mismatches/bulk-report",
        params={"mismatch_ids": str(uuid.uuid4())},
        headers=tenant.admin,
    )
    assert missing.status_code == 404 and missing.json()["detail"] == "No mismatches found"
    absent = await client.post("/api/v1/traces/mismatches/bulk-report", headers=tenant.admin)
    assert absent.status_code == 422


async def test_a_report_repeated_with_its_idempotency_key_is_recorded_and_notified_once(
    database_url: str, redis_url: str, tenant: Tenant, local_server: LocalServer
) -> None:
    async with app_with(
        database_url, redis_url, mismatch_webhook=f"{local_server.url}/hook"
    ) as client:
        stored = await store(client, tenant, make_trace())
        before = len(local_server.requests)
        headers = {**tenant.developer, "Idempotency-Key": f"mm-{uuid.uuid4()}"}
        url = f"/api/v1/traces/{stored['trace_id']}/mismatch"
        first = await client.post(url, json=REPORT, headers=headers)
        again = await client.post(url, json=REPORT, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["mismatch_id"] == first.json()["mismatch_id"]
        assert len(local_server.requests) == before + 1
        listed = (
            await client.get(
                f"/api/v1/traces/{stored['trace_id']}/mismatches", headers=tenant.viewer
            )
        ).json()["data"]
        assert len(listed["mismatches"]) == 1
