"""Idempotency keys in Redis: one Lua script, one round trip per decision.

A key moves from in-progress to done; the done value holds the stored response, replayed for 24 h.
Redis is the fast path only: when it is unreachable the request proceeds, and Postgres unique
constraints remain the final word on exactly-once.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from aos_common.db import on_commit, on_rollback
from aos_common.errors import Conflict
from aos_common.hashing import canonical_json

logger = logging.getLogger("aos.idempotency")

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IN_PROGRESS_TTL_SECONDS = 60
KEY_REUSED = "Idempotency key reused with a different request"
KEY_IN_PROGRESS = "A request with this idempotency key is in progress"

# Values: "p|<fingerprint>" while in flight, "d|<fingerprint>|<stored response>" once done.
_BEGIN_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], 'p|' .. ARGV[1], 'EX', ARGV[2])
  return {'NEW'}
end
local state = string.sub(current, 1, 1)
local fingerprint = string.sub(current, 3, 66)
if fingerprint ~= ARGV[1] then
  return {'CONFLICT'}
end
if state == 'p' then
  return {'IN_PROGRESS'}
end
return {'DUPLICATE', string.sub(current, 68)}
"""

_COMPLETE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == 'p|' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'd|' .. ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""

_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == 'p|' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class IdempotencyOutcome(enum.StrEnum):
    NEW = "NEW"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    IN_PROGRESS = "IN_PROGRESS"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    media_type: str

    def encode(self) -> str:
        return orjson.dumps(
            {
                "status": self.status,
                "body": self.body.decode("utf-8"),
                "media_type": self.media_type,
            }
        ).decode()

    @classmethod
    def decode(cls, raw: str | bytes) -> StoredResponse:
        data = orjson.loads(raw)
        return cls(int(data["status"]), data["body"].encode("utf-8"), data["media_type"])


@dataclass(frozen=True)
class IdempotencyDecision:
    outcome: IdempotencyOutcome
    stored: StoredResponse | None = None


def redis_key(tenant_id: str, key: str) -> str:
    """`idem:{tenant}:{key}`; the braces make the tenant a Redis Cluster hash tag."""
    return f"idem:{{{tenant_id}}}:{key}"


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 over method, path and the canonical form of the body (JSON key order is ignored)."""
    try:
        canonical = canonical_json(orjson.loads(body)) if body else ""
    except orjson.JSONDecodeError:
        canonical = body.decode("utf-8", errors="replace")
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


class IdempotencyStore:
    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: int = IDEMPOTENCY_TTL_SECONDS,
        in_progress_ttl_seconds: int = IN_PROGRESS_TTL_SECONDS,
    ) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._in_progress_ttl = in_progress_ttl_seconds
        self._begin = redis.register_script(_BEGIN_SCRIPT)
        self._complete = redis.register_script(_COMPLETE_SCRIPT)
        self._release = redis.register_script(_RELEASE_SCRIPT)

    async def begin(self, tenant_id: str, key: str, fingerprint: str) -> IdempotencyDecision:
        result = await self._begin(
            keys=[redis_key(tenant_id, key)], args=[fingerprint, self._in_progress_ttl]
        )
        outcome = IdempotencyOutcome(_text(result[0]))
        stored = StoredResponse.decode(result[1]) if len(result) > 1 else None
        return IdempotencyDecision(outcome, stored)

    async def complete(
        self, tenant_id: str, key: str, fingerprint: str, response: StoredResponse
    ) -> bool:
        done = await self._complete(
            keys=[redis_key(tenant_id, key)], args=[fingerprint, response.encode(), self._ttl]
        )
        return bool(done)

    async def release(self, tenant_id: str, key: str, fingerprint: str) -> None:
        await self._release(keys=[redis_key(tenant_id, key)], args=[fingerprint])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


Redactor = Callable[[dict[str, Any]], dict[str, Any]]


async def idempotent(
    request: Request,
    session: AsyncSession,
    tenant_id: str,
    produce: Callable[[], Awaitable[Response]],
    *,
    redact: Redactor | None = None,
) -> Response:
    """Run a creating POST at most once per `Idempotency-Key`.

    The reply is stored only after the request's transaction commits (so a replay never describes
    data that was rolled back) and the key is released if it rolls back, so the client can retry.
    A reply carrying a secret (a new API key) passes `redact`: Redis keeps, and a replay shows,
    the JSON reply with the secret removed, since the secret must be stored nowhere.
    """
    key = request.headers.get("idempotency-key")
    if not key:
        return await produce()
    store: IdempotencyStore = request.app.state.idempotency
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    try:
        decision = await store.begin(tenant_id, key, fingerprint)
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
            await store.release(tenant_id, key, fingerprint)
        except RedisError:
            logger.warning("could not release idempotency key %s", key)

    try:
        response = await produce()
    except BaseException:
        await release()
        raise
    if redact is None:
        stored = StoredResponse(
            response.status_code, bytes(response.body), response.media_type or "application/json"
        )
    else:
        redacted = orjson.dumps(redact(orjson.loads(bytes(response.body))))
        stored = StoredResponse(response.status_code, redacted, "application/json")

    async def store_reply() -> None:
        try:
            await store.complete(tenant_id, key, fingerprint, stored)
        except RedisError:
            logger.warning("could not store idempotent reply for key %s", key)

    if response.status_code >= 400:
        await release()
    else:
        on_commit(session, store_reply)
        on_rollback(session, release)
    return response
