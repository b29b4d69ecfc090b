"""Permission matching, the signed gateway context, credential extraction and the verification cache."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from aos_common.auth import (
    Authenticator,
    Credential,
    Principal,
    extract_credential,
    permission_matches,
    sign_context,
    verify_context,
)
from aos_common.errors import Unauthorized
from aos_common.testing import principal_headers

SECRET = "s" * 40
OPERATOR_KEY = "aos_op_" + "x" * 40


def principal(tenant_id: str | None = "tnt_a", roles: list[str] | None = None) -> Principal:
    return Principal(
        tenant_id=tenant_id, principal_id="key_1", principal_type="api_key", roles=roles or []
    )


@pytest.mark.parametrize(
    ("granted", "required", "expected"),
    [
        ("*", "keys:create", True),
        ("keys:create", "keys:create", True),
        ("keys:*", "keys:create", True),
        ("keys:*", "keysx:create", False),
        ("read:*", "keys:read", False),
        ("keys:read", "keys:create", False),
    ],
)
def test_permission_matching(granted: str, required: str, expected: bool) -> None:
    assert permission_matches(granted, required) is expected


def test_developer_role_grants_traces_write_but_not_keys_create() -> None:
    developer = principal(roles=["developer"])
    assert developer.has_permission("traces:write")
    assert not developer.has_permission("keys:create")


def test_signed_context_round_trips() -> None:
    original = principal(roles=["viewer"])
    headers = sign_context(original, SECRET, now=1000)
    restored = verify_context(
        headers["X-AOS-Context"], headers["X-AOS-Context-Signature"], SECRET, now=1030
    )
    assert restored == original


def test_context_expires_after_sixty_seconds() -> None:
    headers = sign_context(principal(), SECRET, now=1000)
    with pytest.raises(Unauthorized):
        verify_context(
            headers["X-AOS-Context"], headers["X-AOS-Context-Signature"], SECRET, now=1061
        )


def test_context_signed_with_other_secret_is_refused() -> None:
    headers = sign_context(principal(), "other-secret", now=1000)
    with pytest.raises(Unauthorized):
        verify_context(
            headers["X-AOS-Context"], headers["X-AOS-Context-Signature"], SECRET, now=1000
        )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-aos-key": "aos_a", "authorization": "Bearer aos_b"}, Credential("api_key", "aos_a")),
        ({"x-api-key": "aos_c"}, Credential("api_key", "aos_c")),
        ({"authorization": "Bearer aos_d"}, Credential("api_key", "aos_d")),
        ({"authorization": "Bearer eyJhbGciOi"}, Credential("jwt", "eyJhbGciOi")),
        ({"authorization": "Basic abc"}, None),
        ({}, None),
    ],
)
def test_credentials_are_taken_in_api_order(
    headers: dict[str, str], expected: Credential | None
) -> None:
    assert extract_credential(headers) == expected


class CountingResolver:
    def __init__(self) -> None:
        self.calls = 0
        self.answer: Principal | None = principal()

    async def resolve(self, credential: Credential) -> Principal | None:
        self.calls += 1
        return self.answer


async def test_verification_cache_lives_at_most_five_seconds() -> None:
    now = [0.0]
    resolver = CountingResolver()
    authenticator = Authenticator(
        internal_secret=SECRET,
        operator_key=None,
        resolver=resolver,
        clock=lambda: now[0],
        cache_seconds=30,
    )
    headers = {"x-aos-key": "aos_key"}
    await authenticator.authenticate(headers)
    now[0] = 4.9
    await authenticator.authenticate(headers)
    assert resolver.calls == 1
    resolver.answer = None
    now[0] = 5.1
    with pytest.raises(Unauthorized, match="Invalid API key"):
        await authenticator.authenticate(headers)


async def test_operator_key_is_accepted_locally() -> None:
    resolver = CountingResolver()
    authenticator = Authenticator(
        internal_secret=SECRET, operator_key=OPERATOR_KEY, resolver=resolver
    )
    resolved = await authenticator.authenticate({"x-aos-key": OPERATOR_KEY})
    assert resolved.is_operator and resolver.calls == 0


async def test_an_internal_route_answers_a_signed_service_context(
    client: httpx.AsyncClient,
) -> None:
    headers = principal_headers("tnt_a", principal_id="service:traces", principal_type="service")
    response = await client.get("/internal/v1/whoami", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"principal_id": "service:traces"}


async def test_an_internal_route_refuses_a_signed_user_or_key_context(
    client: httpx.AsyncClient,
) -> None:
    for principal_type in ("user", "api_key"):
        headers = principal_headers("tnt_a", principal_type=principal_type)
        response = await client.get("/internal/v1/whoami", headers=headers)
        assert response.status_code == 403
        assert response.json()["detail"] == "Internal route: only services may call it"


async def test_an_internal_route_without_a_context_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/v1/whoami")
    assert response.status_code == 401


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


async def test_a_remembered_context_is_refused_once_it_expires() -> None:
    authenticator = Authenticator(
        internal_secret=SECRET, operator_key=None, resolver=CountingResolver()
    )
    headers = _lower(sign_context(principal(), SECRET, now=time.time() - 59))
    assert (await authenticator.authenticate(headers)).principal_id == "key_1"
    await asyncio.sleep(2.1)
    with pytest.raises(Unauthorized, match="Gateway context expired"):
        await authenticator.authenticate(headers)


async def test_a_remembered_context_with_another_signature_is_refused() -> None:
    authenticator = Authenticator(
        internal_secret=SECRET, operator_key=None, resolver=CountingResolver()
    )
    headers = _lower(sign_context(principal(), SECRET))
    await authenticator.authenticate(headers)
    forged = {**headers, "x-aos-context-signature": "0" * 64}
    with pytest.raises(Unauthorized, match="Invalid gateway context signature"):
        await authenticator.authenticate(forged)
