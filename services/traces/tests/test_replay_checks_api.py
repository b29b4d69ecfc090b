"""GET /api/v1/traces/{trace_id}/replay/checks: the replays recorded on a trace, read back."""

from __future__ import annotations

from typing import Any

import httpx

from aos_common.testing import principal_headers
from aos_proofs.trace_hash import hash_data

from .support import Tenant, replayable_trace, store


async def replay(
    client: httpx.AsyncClient,
    tenant: Tenant,
    trace_id: str,
    step: int,
    output: Any,
    principal_id: str = "user_test",
) -> None:
    headers = principal_headers(tenant.id, roles=["developer"], principal_id=principal_id)
    response = await client.post(
        f"/api/v1/traces/{trace_id}/replay/steps/{step}", json={"output": output}, headers=headers
    )
    assert response.status_code == 200, response.text


async def checks(
    client: httpx.AsyncClient, tenant: Tenant, trace_id: str, **query: Any
) -> httpx.Response:
    return await client.get(
        f"/api/v1/traces/{trace_id}/replay/checks", params=query, headers=tenant.viewer
    )


async def test_a_matching_check_is_listed_as_matched_with_its_hashes(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 2, {"out": 2})
    response = await checks(client, tenant, trace_id)
    assert response.status_code == 200, response.text
    [check] = response.json()["data"]
    assert (check["trace_id"], check["step_index"], check["replay_behavior"]) == (
        trace_id,
        2,
        "check",
    )
    assert check["match"] is True
    assert check["expected_hash"] == check["actual_hash"] == hash_data({"out": 2})
    assert check["checked_at"] and check["check_id"]


async def test_a_differing_check_is_listed_as_not_matched(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 2, {"out": 99})
    [check] = (await checks(client, tenant, trace_id)).json()["data"]
    assert check["match"] is False and check["actual_hash"] == hash_data({"out": 99})


async def test_a_check_names_the_principal_that_replayed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 2, {"out": 2}, principal_id="key_replayer")
    [check] = (await checks(client, tenant, trace_id)).json()["data"]
    assert check["checked_by"] == "key_replayer"


async def test_skip_and_execute_replays_are_listed_without_a_verdict(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 0, {"out": 0})
    await replay(client, tenant, trace_id, 1, None)
    listed = (await checks(client, tenant, trace_id)).json()["data"]
    assert sorted((c["step_index"], c["replay_behavior"], c["match"]) for c in listed) == [
        (0, "execute", None),
        (1, "skip", None),
    ]


async def test_checks_are_listed_newest_first(client: httpx.AsyncClient, tenant: Tenant) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 2, {"out": 99})
    await replay(client, tenant, trace_id, 2, {"out": 2})
    listed = (await checks(client, tenant, trace_id)).json()["data"]
    assert [c["match"] for c in listed] == [True, False]


async def test_latest_per_step_keeps_each_steps_newest_check_in_step_order(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 2, {"out": 2})
    await replay(client, tenant, trace_id, 2, {"out": 99})
    await replay(client, tenant, trace_id, 0, {"out": 0})
    response = await checks(client, tenant, trace_id, latest_per_step="true")
    listed = response.json()["data"]
    assert [(c["step_index"], c["match"]) for c in listed] == [(0, None), (2, False)]
    assert response.json()["meta"]["total"] == 2


async def test_step_index_lists_only_that_steps_checks(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 0, {"out": 0})
    await replay(client, tenant, trace_id, 2, {"out": 2})
    listed = (await checks(client, tenant, trace_id, step_index=2)).json()["data"]
    assert [c["step_index"] for c in listed] == [2]


async def test_checks_are_paginated_with_the_total_in_meta(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    for _ in range(3):
        await replay(client, tenant, trace_id, 2, {"out": 2})
    body = (await checks(client, tenant, trace_id, limit=2, offset=2)).json()
    assert len(body["data"]) == 1
    assert (body["meta"]["total"], body["meta"]["page"], body["meta"]["has_more"]) == (3, 2, False)


async def test_a_trace_never_replayed_has_an_empty_list(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    body = (await checks(client, tenant, trace_id)).json()
    assert (body["data"], body["meta"]["total"]) == ([], 0)


async def test_the_run_id_finds_the_traces_checks(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace = replayable_trace()
    trace_id = (await store(client, tenant, trace))["trace_id"]
    await replay(client, tenant, trace_id, 2, {"out": 2})
    listed = (await checks(client, tenant, trace["run_id"])).json()["data"]
    assert [c["trace_id"] for c in listed] == [trace_id]


async def test_an_unknown_trace_is_a_404_problem(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await checks(client, tenant, "trace_nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "Trace trace_nowhere not found"


async def test_another_tenants_trace_is_a_404(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    await replay(client, tenant, trace_id, 2, {"out": 2})
    response = await checks(client, other_tenant, trace_id)
    assert response.status_code == 404


async def test_a_limit_above_500_is_a_422_problem(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    response = await checks(client, tenant, trace_id, limit=501)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith("limit")


async def test_reading_checks_needs_a_traces_read_permission(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    trace_id = (await store(client, tenant, replayable_trace()))["trace_id"]
    response = await client.get(
        f"/api/v1/traces/{trace_id}/replay/checks",
        headers=tenant.headers("auditor", permissions=["read:cost"]),
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission traces:read"
