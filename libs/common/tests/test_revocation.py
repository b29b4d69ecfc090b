"""The revocation watch: refuses contexts of recently revoked keys, and old key contexts when it
cannot tell (the 5 s bound holds with the tenants service unreachable)."""

from __future__ import annotations

import time

import pytest

from aos_common.auth import CONTEXT_LIFETIME_SECONDS, Principal
from aos_common.errors import Unauthorized
from aos_common.revocation import RevocationWatch


class ListedRevocations:
    """A revocation source answering a fixed list, or failing like an unreachable peer."""

    def __init__(self) -> None:
        self.key_ids: set[str] = set()
        self.reachable = True

    async def recently_revoked(self) -> set[str]:
        if not self.reachable:
            raise ConnectionError("tenants unreachable")
        return set(self.key_ids)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key_principal(key_id: str | None = "key_1") -> Principal:
    return Principal(
        tenant_id="tnt_1", principal_id=key_id or "user_1", principal_type="api_key", key_id=key_id
    )


def expires_for(issued: float) -> int:
    return int(issued) + CONTEXT_LIFETIME_SECONDS


async def test_a_revoked_key_is_refused_after_the_next_refresh() -> None:
    source = ListedRevocations()
    watch = RevocationWatch(source, clock=Clock())
    await watch.refresh()
    watch.check(key_principal(), expires_for(time.time()))
    source.key_ids.add("key_1")
    await watch.refresh()
    with pytest.raises(Unauthorized) as refused:
        watch.check(key_principal(), expires_for(time.time()))
    assert refused.value.detail == "Invalid API key"


async def test_without_fresh_revocations_only_recent_key_contexts_pass() -> None:
    source, clock = ListedRevocations(), Clock()
    watch = RevocationWatch(source, clock=clock)
    await watch.refresh()
    source.reachable = False
    clock.now += 6
    assert await watch.refresh() is False
    assert not watch.fresh
    watch.check(key_principal(), expires_for(time.time() - 1))
    with pytest.raises(Unauthorized):
        watch.check(key_principal(), expires_for(time.time() - 10))


async def test_contexts_without_a_key_are_not_subject_to_revocation() -> None:
    watch = RevocationWatch(ListedRevocations(), clock=Clock())
    watch.check(key_principal(None), expires_for(time.time() - 30))


async def test_a_watch_that_never_refreshed_refuses_old_key_contexts() -> None:
    watch = RevocationWatch(ListedRevocations(), clock=Clock())
    with pytest.raises(Unauthorized):
        watch.check(key_principal(), expires_for(time.time() - 30))
