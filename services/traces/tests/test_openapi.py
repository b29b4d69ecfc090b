"""The traces OpenAPI contract: every public route declares the answer it gives, and what each
route answers for realistic data (the success answers random fuzzing rarely reaches: replays of
each behaviour, integrity with a capture failure, a batch with every item status) is valid
against that declaration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from .support import Tenant, make_trace, replayable_trace, store

Case = Callable[[httpx.AsyncClient, Tenant], Awaitable[httpx.Response]]
PREFIX = "/api/v1/traces"


def public_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        if not path.startswith("/internal/")
        for method, operation in operations.items()
    ]


def success_answer(operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The operation's success status and its declared content (empty for a 204)."""
    [(status, answer)] = [
        (code, answer) for code, answer in operation["responses"].items() if code.startswith("2")
    ]
    return status, answer.get("content") or {}


def declares_a_schema(status: str, content: dict[str, Any]) -> bool:
    if status == "204":
        return not content
    schema = (content.get("application/json") or {}).get("schema") or {}
    return "$ref" in schema or "properties" in schema


async def test_every_public_route_declares_its_success_answer(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operations = public_operations(document)
    undeclared = [
        f"{method} {path}"
        for method, path, operation in operations
        if not declares_a_schema(*success_answer(operation))
    ]
    assert len(operations) >= 20
    assert undeclared == []


async def assert_conforms(client: httpx.AsyncClient, response: httpx.Response) -> None:
    """The response is the route's success answer and valid against the schema it declares."""
    document = (await client.get("/openapi.json")).json()
    template = response.request.extensions["route"]
    operation = document["paths"][template][response.request.method.lower()]
    status, content = success_answer(operation)
    assert str(response.status_code) == status, response.text
    if status == "204":
        assert response.content == b""
        return
    schema = {**content["application/json"]["schema"], "components": document["components"]}
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = [
        f"{list(error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(response.json())
    ]
    assert errors == []


async def call(
    client: httpx.AsyncClient,
    method: str,
    route: str,
    path: str,
    headers: dict[str, str],
    **options: Any,
) -> httpx.Response:
    """A request that remembers the route template it was sent to (for `assert_conforms`)."""
    request = client.build_request(method, path, headers=headers, **options)
    request.extensions["route"] = route
    return await client.send(request)


async def report_mismatch(client: httpx.AsyncClient, tenant: Tenant, trace_id: str) -> str:
    response = await client.post(
        f"{PREFIX}/{trace_id}/mismatch",
        json={
            "step_index": 1,
            "reason": "output differs",
            "expected_hash": "a",
            "actual_hash": "b",
        },
        headers=tenant.developer,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["mismatch_id"])


async def list_traces(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    await store(client, tenant, make_trace())
    return await call(client, "GET", PREFIX, PREFIX, tenant.viewer)


async def store_trace(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    return await call(client, "POST", PREFIX, PREFIX, tenant.developer, json=make_trace())


async def summary(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    await store(client, tenant, make_trace(is_synthetic=True))
    return await call(client, "GET", f"{PREFIX}/summary", f"{PREFIX}/summary", tenant.viewer)


async def batch(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    """Stored, rejected and duplicate items in one batch."""
    trace = make_trace()
    items = [trace, {"steps": "not a list"}, trace]
    return await call(
        client, "POST", f"{PREFIX}/batch", f"{PREFIX}/batch", tenant.developer, json=items
    )


async def cleanup(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    route = f"{PREFIX}/cleanup"
    return await call(client, "POST", route, route, tenant.admin, json={"older_than_days": 1})


async def by_hash(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    route = f"{PREFIX}/by-hash/{{root_hash}}"
    return await call(
        client, "GET", route, f"{PREFIX}/by-hash/{stored['root_hash']}", tenant.viewer
    )


async def by_incident(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    await store(client, tenant, make_trace(incident_id="inc-1"))
    route = f"{PREFIX}/by-incident/{{incident_id}}"
    return await call(client, "GET", route, f"{PREFIX}/by-incident/inc-1", tenant.viewer)


async def compare(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    first = await store(client, tenant, make_trace(steps=2))
    second = await store(client, tenant, make_trace(steps=3, seed=7))
    route = f"{PREFIX}/compare/{{run_id1}}/{{run_id2}}"
    path = f"{PREFIX}/compare/{first['run_id']}/{second['run_id']}"
    return await call(client, "GET", route, path, tenant.viewer)


async def idempotency(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    route = f"{PREFIX}/idempotency/{{key}}"
    return await call(
        client, "GET", route, f"{PREFIX}/idempotency/{stored['run_id']}:0", tenant.viewer
    )


async def recent_mismatches(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    await report_mismatch(client, tenant, stored["trace_id"])
    route = f"{PREFIX}/mismatches"
    return await call(client, "GET", route, route, tenant.viewer)


async def bulk_report(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    mismatch_id = await report_mismatch(client, tenant, stored["trace_id"])
    route = f"{PREFIX}/mismatches/bulk-report"
    params = {"mismatch_ids": mismatch_id, "github_issue": "false"}
    return await call(client, "POST", route, route, tenant.admin, params=params)


async def get_trace(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    route = f"{PREFIX}/{{run_id}}"
    return await call(client, "GET", route, f"{PREFIX}/{stored['run_id']}", tenant.viewer)


async def delete_trace(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    route = f"{PREFIX}/{{run_id}}"
    return await call(client, "DELETE", route, f"{PREFIX}/{stored['run_id']}", tenant.admin)


async def mismatch(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    route = f"{PREFIX}/{{trace_id}}/mismatch"
    body = {"step_index": 0, "reason": "output differs", "details": {"why": "test"}}
    return await call(
        client,
        "POST",
        route,
        f"{PREFIX}/{stored['trace_id']}/mismatch",
        tenant.developer,
        json=body,
    )


async def trace_mismatches(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    await report_mismatch(client, tenant, stored["trace_id"])
    route = f"{PREFIX}/{{trace_id}}/mismatches"
    return await call(
        client, "GET", route, f"{PREFIX}/{stored['trace_id']}/mismatches", tenant.viewer
    )


async def resolve(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    mismatch_id = await report_mismatch(client, tenant, stored["trace_id"])
    route = f"{PREFIX}/{{trace_id}}/mismatches/{{mismatch_id}}/resolve"
    path = f"{PREFIX}/{stored['trace_id']}/mismatches/{mismatch_id}/resolve"
    return await call(client, "POST", route, path, tenant.admin, params={"resolution_note": "ok"})


def replay(step_index: int, output: Any) -> Case:
    async def case(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
        stored = await store(client, tenant, replayable_trace())
        route = f"{PREFIX}/{{trace_id}}/replay/steps/{{step_index}}"
        path = f"{PREFIX}/{stored['trace_id']}/replay/steps/{step_index}"
        return await call(client, "POST", route, path, tenant.developer, json={"output": output})

    return case


async def replay_checks(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, replayable_trace())
    for step_index, output in ((2, {"out": 2}), (1, None)):
        answer = await client.post(
            f"{PREFIX}/{stored['trace_id']}/replay/steps/{step_index}",
            json={"output": output},
            headers=tenant.developer,
        )
        assert answer.status_code == 200, answer.text
    route = f"{PREFIX}/{{trace_id}}/replay/checks"
    path = f"{PREFIX}/{stored['trace_id']}/replay/checks"
    return await call(client, "GET", route, path, tenant.viewer)


async def integrity(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    failure = {"evidence_class": "provider", "failure_type": "pre_attach"}
    answer = await client.post(
        f"{PREFIX}/{stored['trace_id']}/evidence", json=failure, headers=tenant.developer
    )
    assert answer.status_code == 201, answer.text
    route = f"{PREFIX}/{{trace_id}}/integrity"
    return await call(
        client, "GET", route, f"{PREFIX}/{stored['trace_id']}/integrity", tenant.viewer
    )


async def evidence(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    stored = await store(client, tenant, make_trace())
    route = f"{PREFIX}/{{trace_id}}/evidence"
    body = {"evidence_class": "provider", "failure_type": "provider_timeout"}
    return await call(
        client,
        "POST",
        route,
        f"{PREFIX}/{stored['trace_id']}/evidence",
        tenant.developer,
        json=body,
    )


async def otlp_json(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    """A span without a trace id: the answer carries a partial success."""
    spans = [
        {
            "spanId": "0000000000000001",
            "name": "chat",
            "startTimeUnixNano": "1",
            "endTimeUnixNano": "2",
        }
    ]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    return await call(client, "POST", "/v1/traces", "/v1/traces", tenant.developer, json=body)


CASES: dict[str, Case] = {
    "list": list_traces,
    "store": store_trace,
    "summary": summary,
    "batch": batch,
    "cleanup": cleanup,
    "by-hash": by_hash,
    "by-incident": by_incident,
    "compare": compare,
    "idempotency": idempotency,
    "recent-mismatches": recent_mismatches,
    "bulk-report": bulk_report,
    "get": get_trace,
    "delete": delete_trace,
    "mismatch": mismatch,
    "trace-mismatches": trace_mismatches,
    "resolve": resolve,
    "replay-execute": replay(0, {"out": "new"}),
    "replay-skip": replay(1, None),
    "replay-check-mismatch": replay(2, {"out": "different"}),
    "replay-checks": replay_checks,
    "integrity": integrity,
    "evidence": evidence,
    "otlp-json": otlp_json,
}


@pytest.mark.parametrize("name", CASES)
async def test_the_answer_matches_the_declared_schema(
    client: httpx.AsyncClient, tenant: Tenant, name: str
) -> None:
    response = await CASES[name](client, tenant)
    await assert_conforms(client, response)
