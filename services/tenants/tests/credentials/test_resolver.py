"""The local resolver's failure mode: a database outage is a 503 to retry, never a 500 or a 401."""

from __future__ import annotations

import pytest

from aos_common.auth import Credential
from aos_common.errors import ServiceUnavailable
from aos_tenants.credentials.resolver import LocalCredentialResolver, create_lookup_engine
from aos_tenants.credentials.tokens import ConsoleTokenVerifier


async def test_unreachable_database_is_service_unavailable() -> None:
    engine = create_lookup_engine("postgresql://postgres@127.0.0.1:1/none")
    resolver = LocalCredentialResolver(engine, ConsoleTokenVerifier(hs_secret="s" * 40))
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            await resolver.resolve(Credential("api_key", "aos_" + "k" * 43))
    finally:
        await engine.dispose()
    assert raised.value.status == 503 and raised.value.headers["Retry-After"] == "1"


async def test_oversized_or_foreign_credentials_are_refused_without_a_query() -> None:
    engine = create_lookup_engine("postgresql://postgres@127.0.0.1:1/none")
    resolver = LocalCredentialResolver(engine, ConsoleTokenVerifier(hs_secret="s" * 40))
    try:
        assert await resolver.resolve(Credential("api_key", "aos_" + "k" * 5000)) is None
        assert await resolver.resolve(Credential("api_key", "sk-not-ours")) is None
    finally:
        await engine.dispose()
