"""Idempotency for POSTs whose reply contains a secret (a new API key).

aos_common's `idempotent` stores the reply verbatim in Redis for 24 h; an API key must never be
stored anywhere but as its SHA-256. This variant uses the same store and texts but keeps a copy of
the reply with the secret removed: a replay says the key exists and shows its prefix, never the key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from aos_common.db import on_commit, on_rollback
from aos_common.errors import Conflict
from aos_common.idempotency import (
    KEY_IN_PROGRESS,
    KEY_REUSED,
    IdempotencyOutcome,
    IdempotencyStore,
    StoredResponse,
    request_fingerprint,
)

logger = logging.getLogger("aos.tenants.idempotency")
Redactor = Callable[[dict[str, Any]], dict[str, Any]]


async def idempotent_without_secret(
    request: Request,
    session: AsyncSession,
    scope: str,
    produce: Callable[[], Awaitable[Response]],
    redact: Redactor,
) -> Response:
    key = request.headers.get("idempotency-key")
    if not key:
        return await produce()
    store: IdempotencyStore = request.app.state.idempotency
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    try:
        decision = await store.begin(scope, key, fingerprint)
    except RedisError as error:
        logger.warning("idempotency store unavailable, proceeding without it: %s", error)
        return await produce()
    if decision.outcome is IdempotencyOutcome.CONFLICT:
        raise Conflict(KEY_REUSED)
    if decision.outcome is IdempotencyOutcome.IN_PROGRESS:
        raise Conflict(KEY_IN_PROGRESS)
    if decision.outcome is IdempotencyOutcome.DUPLICATE:
        assert decision.stored is not None
        return Response(
            decision.stored.body,
            status_code=decision.stored.status,
            media_type=decision.stored.media_type,
            headers={"Idempotent-Replayed": "true"},
        )

    async def release() -> None:
        try:
            await store.release(scope, key, fingerprint)
        except RedisError:
            logger.warning("could not release idempotency key %s", key)

    try:
        response = await produce()
    except BaseException:
        await release()
        raise
    if response.status_code >= 400:
        await release()
        return response
    redacted = orjson.dumps(redact(orjson.loads(bytes(response.body))))
    stored = StoredResponse(response.status_code, redacted, "application/json")

    async def store_reply() -> None:
        try:
            await store.complete(scope, key, fingerprint, stored)
        except RedisError:
            logger.warning("could not store idempotent reply for key %s", key)

    on_commit(session, store_reply)
    on_rollback(session, release)
    return response
