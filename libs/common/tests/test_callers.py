"""The caller of a public route: permission and role checks, the tenant it acts on, and the
`tenant_id` query parameter read by hand yet documented and refused as FastAPI would."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from aos_common.auth import Principal
from aos_common.callers import TENANT_QUERY_PARAMETER, scoped_tenant
from aos_common.errors import Forbidden
from aos_common.testing import principal_headers


def principal(tenant_id: str | None, roles: list[str] | None = None) -> Principal:
    return Principal(
        tenant_id=tenant_id, principal_id="p", principal_type="user", roles=roles or []
    )


def test_scoped_tenant_refuses_other_tenant() -> None:
    with pytest.raises(Forbidden, match="Cannot access other tenant's data"):
        scoped_tenant(principal("tnt_a"), "tnt_b")


def test_scoped_tenant_lets_operator_read_across_tenants() -> None:
    assert scoped_tenant(principal("tnt_a", roles=["operator"]), "tnt_b") == "tnt_b"
    assert scoped_tenant(principal("tnt_a"), None) == "tnt_a"


async def test_a_caller_holding_any_of_the_permissions_acts_on_its_own_tenant(
    client: httpx.AsyncClient,
) -> None:
    headers = principal_headers("tnt_a", roles=[], permissions=["read:*"], principal_id="key_7")
    response = await client.get("/callers/reader", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"tenant_id": "tnt_a", "actor": "key_7"}


async def test_a_caller_without_the_permissions_is_refused_naming_the_first(
    client: httpx.AsyncClient,
) -> None:
    headers = principal_headers("tnt_a", roles=[], permissions=["keys:read"])
    response = await client.get("/callers/reader", headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission widgets:read"


async def test_a_caller_naming_another_tenant_is_refused_unless_operator(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.get(
        "/callers/reader", params={"tenant_id": "tnt_b"}, headers=principal_headers("tnt_a")
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Cannot access other tenant's data"
    operator = principal_headers(None, roles=["operator"], principal_type="operator")
    allowed = await client.get("/callers/reader", params={"tenant_id": "tnt_b"}, headers=operator)
    assert allowed.json()["tenant_id"] == "tnt_b"


async def test_a_caller_without_the_role_is_refused_with_the_given_detail(
    client: httpx.AsyncClient,
) -> None:
    viewer = await client.get(
        "/callers/admin", headers=principal_headers("tnt_a", roles=["viewer"])
    )
    assert viewer.status_code == 403
    assert viewer.json()["detail"] == "Admins only"
    admin = await client.get("/callers/admin", headers=principal_headers("tnt_a", roles=["admin"]))
    assert admin.json() == {"tenant_id": "tnt_a"}


async def test_a_tenant_id_over_its_limit_is_refused_as_a_declared_parameter_would_be(
    client: httpx.AsyncClient,
) -> None:
    operator = principal_headers(None, roles=["operator"], principal_type="operator")
    response = await client.get("/callers/reader", params={"tenant_id": "t" * 65}, headers=operator)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "query.tenant_id", "message": "String should have at most 64 characters"}
    ]


def test_the_openapi_document_describes_tenant_id_on_every_caller_route(test_app: FastAPI) -> None:
    paths = test_app.openapi()["paths"]
    for path in ("/callers/reader", "/callers/admin"):
        operation = paths[path]["get"]
        assert TENANT_QUERY_PARAMETER in operation["parameters"]
        assert "422" in operation["responses"]
    assert "parameters" not in paths["/guarded"]["get"]
