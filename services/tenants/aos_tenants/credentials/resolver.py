"""Credential resolution inside the tenants service: the source of truth for the platform.

The tenants app uses it (behind aos_common's 5 s cache) for its own routes; the internal verify and
forward routes call it uncached, so a revoked key stops working everywhere once callers' caches
(at most 5 s) expire.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from aos_common.auth import Credential, Principal
from aos_common.db import asyncpg_url
from aos_common.envelope import utc_now
from aos_common.errors import ServiceUnavailable
from aos_common.revocation import REVOCATION_WINDOW_SECONDS
from aos_tenants.credentials.repository import (
    find_key_by_hash,
    key_active,
    recently_revoked_key_ids,
    tenant_exists,
)
from aos_tenants.credentials.tokens import ConsoleTokenVerifier, InvalidConsoleToken
from aos_tenants.credentials.usage_tracker import KeyUsageTracker
from aos_tenants.domain.keys import API_KEY_PREFIX, hash_api_key

logger = logging.getLogger("aos.tenants.auth")
MAX_CREDENTIAL_LENGTH = 4096
CREDENTIAL_STORE_DOWN = "Credential verification is unavailable; retry shortly"
T = TypeVar("T")
# Roles a console token may carry; "service" belongs to signed service contexts only.
TOKEN_ROLES = frozenset({"admin", "operator", "developer", "viewer"})


def create_lookup_engine(database_url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An engine for credential lookups only: autocommit and no pre-ping, so that a lookup is
    exactly one Postgres round trip (no BEGIN/ROLLBACK, no ping). A connection found dead is
    retried once on a fresh one instead."""
    return create_async_engine(
        asyncpg_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
        connect_args={"server_settings": {"application_name": "aos-tenants-auth"}},
    )


class LocalCredentialResolver:
    def __init__(
        self,
        engine: AsyncEngine,
        verifier: ConsoleTokenVerifier,
        tracker: KeyUsageTracker | None = None,
    ) -> None:
        self._engine = engine
        self._verifier = verifier
        self._tracker = tracker

    async def _query(self, query: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        for attempt in range(2):
            try:
                async with self._engine.connect() as connection:
                    return await query(connection)
            except DBAPIError as error:
                if attempt == 0 and error.connection_invalidated:
                    continue
                logger.warning("credential store unavailable: %s", type(error).__name__)
                raise ServiceUnavailable(
                    CREDENTIAL_STORE_DOWN, headers={"Retry-After": "1"}
                ) from error
            except OSError as error:
                raise ServiceUnavailable(
                    CREDENTIAL_STORE_DOWN, headers={"Retry-After": "1"}
                ) from error
        raise AssertionError("unreachable")

    async def resolve(self, credential: Credential) -> Principal | None:
        if len(credential.value) > MAX_CREDENTIAL_LENGTH:
            return None
        if credential.kind == "api_key":
            return await self.resolve_api_key(credential.value)
        return await self.resolve_token(credential.value)

    async def resolve_api_key(self, key: str, *, count_request: bool = False) -> Principal | None:
        if not key.startswith(API_KEY_PREFIX):
            return None
        key_hash = hash_api_key(key)
        stored = await self._query(lambda connection: find_key_by_hash(connection, key_hash))
        if stored is None or stored.status != "active":
            return None
        if stored.expires_at is not None and stored.expires_at <= utc_now():
            return None
        if self._tracker is not None:
            self._tracker.key_used(stored.tenant_id, stored.id, requests=int(count_request))
        return Principal(
            tenant_id=stored.tenant_id,
            principal_id=stored.id,
            principal_type="api_key",
            roles=stored.roles,
            permissions=stored.permissions,
            key_id=stored.id,
            rate_limit_rpm=stored.rate_limit_rpm,
        )

    async def recently_revoked(self) -> set[str]:
        """Keys whose signed contexts may still be alive although the key no longer works."""
        return await self._query(
            lambda connection: recently_revoked_key_ids(connection, REVOCATION_WINDOW_SECONDS)
        )

    async def resolve_token(self, token: str) -> Principal | None:
        try:
            claims = await self._verifier.verify(token)
        except InvalidConsoleToken as error:
            logger.info("console token refused: %s", error)
            return None
        key_id = claims.key_id
        if key_id is not None:
            if not await self._query(
                lambda connection: key_active(connection, claims.tenant_id, key_id)
            ):
                logger.info("console token refused: its key %s is not active", key_id)
                return None
        elif not await self._query(lambda connection: tenant_exists(connection, claims.tenant_id)):
            logger.info("console token refused: unknown tenant %s", claims.tenant_id)
            return None
        return Principal(
            tenant_id=claims.tenant_id,
            principal_id=claims.subject,
            principal_type="user",
            roles=[role for role in claims.roles if role in TOKEN_ROLES],
            permissions=list(claims.permissions),
            key_id=key_id,
        )
