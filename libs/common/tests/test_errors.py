"""problem+json shapes for unknown routes, validation errors and unhandled exceptions."""

from __future__ import annotations

import re

import httpx

from aos_common.testing import principal_headers

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "request_id"}


async def test_unknown_route_is_a_404_problem_with_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert PROBLEM_FIELDS <= body.keys()
    assert body["request_id"] == response.headers["x-request-id"]
    assert re.fullmatch(r"req-[0-9a-f]{12}", body["request_id"])


async def test_validation_error_is_422_with_field_errors(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/widgets", json={"name": "w", "size": "big"}, headers=principal_headers("tnt_a")
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [{"field": "size", "message": body["errors"][0]["message"]}]
    assert "size" in body["detail"]


async def test_unhandled_exception_is_500_without_stack_trace(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert PROBLEM_FIELDS <= body.keys()
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text


async def test_caller_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_missing_credentials_is_401_authentication_required(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/guarded")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


async def test_missing_permission_is_403_naming_it(client: httpx.AsyncClient) -> None:
    headers = principal_headers("tnt_a", roles=["viewer"])
    response = await client.get("/guarded", headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission keys:create"


async def test_tampered_context_is_401(client: httpx.AsyncClient) -> None:
    headers = principal_headers("tnt_a")
    headers["X-AOS-Context-Signature"] = "0" * 64
    response = await client.get("/guarded", headers=headers)
    assert response.status_code == 401


async def test_a_value_the_database_cannot_store_is_a_400_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/widgets", json={"name": "nul\u0000byte", "size": 1}, headers=principal_headers("tnt_a")
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "cannot store" in response.json()["detail"]
