"""Credential resolution through HTTP: verify (services), forward (gateway), and another service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from fastapi import APIRouter, FastAPI

from aos_common.app import create_service_app
from aos_common.auth import PrincipalDep, service_principal, sign_context, verify_context
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET, ServiceSettings
from aos_common.testing import app_client
from aos_common.testing.tenants import (
    OPERATOR_HEADERS,
    TEST_JWT_SECRET,
    TEST_OPERATOR_KEY,
    NewTenant,
    create_key,
)
from aos_tenants.credentials.tokens import mint_console_token


def service_headers() -> dict[str, str]:
    """Signed anew on every use: a context is valid for 60 s only."""
    return sign_context(service_principal("traces"), DEVELOPMENT_INTERNAL_SECRET)


async def test_verify_resolves_an_api_key(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    key = await create_key(client, tenant, rate_limit_rpm=60)
    response = await client.get(
        "/internal/v1/auth/verify", headers={**service_headers(), "X-AOS-Key": key["key"]}
    )
    assert response.status_code == 200
    assert response.json() == {
        "tenant_id": tenant.id,
        "principal_id": key["id"],
        "principal_type": "api_key",
        "roles": [],
        "permissions": ["run:*", "read:*"],
        "key_id": key["id"],
        "rate_limit_rpm": 60,
    }


@pytest.mark.parametrize("header", ["X-AOS-Key", "X-API-Key", "Authorization"])
async def test_every_key_header_is_accepted(
    client: httpx.AsyncClient, tenant: NewTenant, header: str
) -> None:
    value = f"Bearer {tenant.admin_key}" if header == "Authorization" else tenant.admin_key
    response = await client.get("/api/v1/tenant", headers={header: value})
    assert response.status_code == 200 and response.json()["id"] == tenant.id


async def test_verify_requires_a_signed_context(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    response = await client.get("/internal/v1/auth/verify", headers=tenant.headers)
    assert response.status_code == 401
    forged = sign_context(service_principal("evil"), "not-the-internal-secret")
    response = await client.get("/internal/v1/auth/verify", headers={**forged, **tenant.headers})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid gateway context signature"


async def test_verify_without_credential_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/v1/auth/verify", headers=service_headers())
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


async def test_verify_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/internal/v1/auth/verify", headers={**service_headers(), "X-AOS-Key": "aos_" + "x" * 43}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key"


async def test_verify_operator_key(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/internal/v1/auth/verify", headers={**service_headers(), "X-AOS-Key": TEST_OPERATOR_KEY}
    )
    assert response.json()["principal_type"] == "operator"
    assert response.json()["roles"] == ["operator"]


async def test_verify_console_token(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    token = mint_console_token(
        TEST_JWT_SECRET, tenant_id=tenant.id, subject="user_7", roles=["developer", "service"]
    )
    response = await client.get(
        "/internal/v1/auth/verify",
        headers={**service_headers(), "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["tenant_id"], body["principal_id"], body["principal_type"]) == (
        tenant.id,
        "user_7",
        "user",
    )
    assert body["roles"] == ["developer"]  # "service" is never accepted from a token


async def test_a_console_token_bound_to_a_key_dies_with_that_key(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    key = await create_key(client, tenant)
    token = jwt.encode(
        {
            "sub": key["id"],
            "tenant_id": tenant.id,
            "roles": [],
            "permissions": ["read:*"],
            "key_id": key["id"],
            "aud": "aos-api",
            "exp": int(time.time()) + 600,
        },
        TEST_JWT_SECRET,
        algorithm="HS256",
    )
    headers = {**service_headers(), "Authorization": f"Bearer {token}"}
    answer = await client.get("/internal/v1/auth/verify", headers=headers)
    assert (answer.json()["key_id"], answer.json()["permissions"]) == (key["id"], ["read:*"])
    revoked = await client.delete(f"/api/v1/tenant/api-keys/{key['id']}", headers=tenant.headers)
    assert revoked.status_code == 200
    headers = {**service_headers(), "Authorization": f"Bearer {token}"}
    assert (await client.get("/internal/v1/auth/verify", headers=headers)).status_code == 401


async def test_console_token_works_on_routes_with_role_permissions(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    viewer = mint_console_token(TEST_JWT_SECRET, tenant_id=tenant.id, subject="v", roles=["viewer"])
    headers = {"Authorization": f"Bearer {viewer}"}
    assert (await client.get("/api/v1/tenant", headers=headers)).status_code == 200
    denied = await client.post("/api/v1/tenant/api-keys", json={"name": "x"}, headers=headers)
    assert denied.status_code == 403
    assert denied.json()["detail"] == "Requires permission keys:create"


async def test_forward_answers_traefik_headers(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    response = await client.get(
        "/internal/v1/auth/forward",
        headers={
            **tenant.headers,
            "X-Forwarded-Uri": "/api/v1/traces",
            "X-Forwarded-Method": "GET",
        },
    )
    assert response.status_code == 200
    assert response.headers["x-aos-tenant-id"] == tenant.id
    assert response.headers["x-aos-roles"] == "admin"
    assert response.headers["x-aos-principal"].startswith("key_")
    principal = verify_context(
        response.headers["x-aos-context"],
        response.headers["x-aos-context-signature"],
        DEVELOPMENT_INTERNAL_SECRET,
    )
    assert principal.tenant_id == tenant.id and principal.principal_type == "api_key"


async def test_forward_refuses_internal_paths(client: httpx.AsyncClient, tenant: NewTenant) -> None:
    response = await client.get(
        "/internal/v1/auth/forward",
        headers={**tenant.headers, "X-Forwarded-Uri": "/internal/v1/auth/verify"},
    )
    assert response.status_code == 403


async def test_forward_without_credentials_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/v1/auth/forward")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Authentication required"


async def test_forward_ignores_a_client_supplied_context(client: httpx.AsyncClient) -> None:
    forged = sign_context(service_principal("gateway"), DEVELOPMENT_INTERNAL_SECRET)
    response = await client.get("/internal/v1/auth/forward", headers=forged)
    assert response.status_code == 401


async def test_forward_counts_requests_and_api_calls(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    key = await create_key(client, tenant)
    for _ in range(3):
        response = await client.get("/internal/v1/auth/forward", headers={"X-AOS-Key": key["key"]})
        assert response.status_code == 200
    for _ in range(50):
        listed = (await client.get("/api/v1/tenant/api-keys", headers=tenant.headers)).json()
        mine = next(item for item in listed if item["id"] == key["id"])
        if mine["total_requests"] == 3:
            break
        await asyncio.sleep(0.05)
    assert mine["total_requests"] == 3 and mine["last_used_at"] is not None
    usage = (await client.get("/api/v1/tenant/usage?period=24h", headers=tenant.headers)).json()
    assert usage["meters"]["api_calls"] == {"total": 3, "unit": "requests"}
    assert "tenants.forward_auth" in usage["provenance"]["sources"]


def _token(tenant: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "user_1",
        "tenant_id": tenant,
        "roles": ["admin"],
        "aud": "aos-api",
        "exp": now + 600,
    }
    claims.update(overrides)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, TEST_JWT_SECRET, algorithm="HS256"
    )


def _alg_none(tenant_id: str) -> str:
    return jwt.encode(
        {
            "sub": "u",
            "tenant_id": tenant_id,
            "roles": ["admin"],
            "aud": "aos-api",
            "exp": int(time.time()) + 600,
        },
        None,  # type: ignore[arg-type]
        algorithm="none",
    )


@pytest.mark.parametrize(
    "attack",
    [
        "alg_none",
        "wrong_signature",
        "expired",
        "wrong_audience",
        "missing_tenant",
        "missing_exp",
        "missing_audience",
        "not_yet_valid",
        "unknown_tenant",
        "garbage",
    ],
)
async def test_jwt_attacks_are_refused(
    client: httpx.AsyncClient, tenant: NewTenant, attack: str
) -> None:
    now = int(time.time())
    tokens = {
        "alg_none": lambda: _alg_none(tenant.id),
        "wrong_signature": lambda: jwt.encode(
            {"sub": "u", "tenant_id": tenant.id, "aud": "aos-api", "exp": now + 600},
            "another-secret-of-sufficient-length-xx",
            algorithm="HS256",
        ),
        "expired": lambda: _token(tenant.id, exp=now - 3600),
        "wrong_audience": lambda: _token(tenant.id, aud="someone-else"),
        "missing_tenant": lambda: _token(tenant.id, tenant_id=None),
        "missing_exp": lambda: _token(tenant.id, exp=None),
        "missing_audience": lambda: _token(tenant.id, aud=None),
        "not_yet_valid": lambda: _token(tenant.id, nbf=now + 3600),
        "unknown_tenant": lambda: _token("tnt_ffffffffffffffff"),
        "garbage": lambda: "not.a.jwt",
    }
    headers = {"Authorization": f"Bearer {tokens[attack]()}"}
    response = await client.get("/api/v1/tenant", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or expired token"
    verify = await client.get("/internal/v1/auth/verify", headers={**service_headers(), **headers})
    assert verify.status_code == 401


# --- another service, built on aos_common, resolving through this one -------------------------


@pytest.fixture(scope="module")
async def other_service(
    tenants_app: FastAPI, client: httpx.AsyncClient, settings: ServiceSettings
) -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter()

    @router.get("/api/v1/whoami")
    async def whoami(principal: PrincipalDep) -> dict[str, str | None]:
        return {"tenant_id": principal.tenant_id, "principal_id": principal.principal_id}

    other = create_service_app(
        ServiceSettings(
            service_name="other",
            environment="test",
            telemetry_enabled=False,
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            credential_cache_seconds=5.0,
        ),
        title="another AOS service",
        routers=[router],
        transports={"tenants": httpx.ASGITransport(app=tenants_app)},
    )
    async with app_client(other) as other_client:
        yield other_client


async def test_another_service_accepts_a_key_and_refuses_it_within_5s_of_revocation(
    client: httpx.AsyncClient, other_service: httpx.AsyncClient, tenant: NewTenant
) -> None:
    key = await create_key(client, tenant)
    headers = {"X-AOS-Key": key["key"]}
    accepted = await other_service.get("/api/v1/whoami", headers=headers)
    assert accepted.status_code == 200
    assert accepted.json() == {"tenant_id": tenant.id, "principal_id": key["id"]}
    revoked = await client.delete(f"/api/v1/tenant/api-keys/{key['id']}", headers=tenant.headers)
    assert revoked.status_code == 200
    revoked_at = time.monotonic()
    while True:
        sent_after = time.monotonic() - revoked_at
        response = await other_service.get("/api/v1/whoami", headers=headers)
        if response.status_code == 401:
            break
        assert response.status_code == 200
        assert sent_after <= 5.0, f"revoked key still accepted {sent_after:.2f} s after revocation"
        await asyncio.sleep(0.2)
    assert response.json()["detail"] == "Invalid API key"
    assert sent_after <= 5.2  # the first refused request left at most one poll after 5 s


async def test_another_service_resolves_console_tokens_and_operator_key(
    other_service: httpx.AsyncClient, tenant: NewTenant
) -> None:
    token = mint_console_token(TEST_JWT_SECRET, tenant_id=tenant.id, subject="console-user")
    response = await other_service.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.json() == {"tenant_id": tenant.id, "principal_id": "console-user"}
    bad = await other_service.get("/api/v1/whoami", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
    operator = await other_service.get("/api/v1/whoami", headers=OPERATOR_HEADERS)
    assert operator.json() == {"tenant_id": None, "principal_id": "operator"}


async def test_forward_accepts_the_clients_method(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    for method in ("POST", "DELETE", "PATCH"):
        response = await client.request(
            method, "/internal/v1/auth/forward", headers=tenant.headers, content=b"ignored"
        )
        assert response.status_code == 200
        assert response.headers["x-aos-tenant-id"] == tenant.id
