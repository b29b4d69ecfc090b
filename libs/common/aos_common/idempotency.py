"""Idempotency keys: Postgres decides, Redis answers repeats fast.

Each key is a row of the service's `idempotency_keys` table, inserted in the same transaction as
the write it protects and holding the reply once produced: the write and its key commit together
or not at all, so exactly-once holds with Redis stopped. Redis (one Lua script, one round trip)
answers replays and reuse with another body without touching the database; when it is
unreachable the request goes straight to Postgres. Whether a request with the key is still in
flight is Postgres's call too (its row lock), so a request whose process died mid-flight does not
block its key until a Redis entry expires. Keys and replies live for 24 h; a row past that window
is taken over by the next request with its key, and every service with the table purges such rows
in the background (aos_common.idempotency_purge, in bounded batches), so the table holds about a day of keys.
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
from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause
from starlette.requests import Request
from starlette.responses import Response

from aos_common.db import on_commit, on_rollback
from aos_common.errors import BadRequest, Conflict
from aos_common.state import service_state
from aos_proofs.trace_hash import canonical_json

logger = logging.getLogger("aos.idempotency")

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IN_PROGRESS_TTL_SECONDS = 60
KEY_REUSED = "Idempotency key reused with a different request"
KEY_IN_PROGRESS = "A request with this idempotency key is in progress"
MAX_KEY_LENGTH = 255
KEY_TOO_LONG = f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters"

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


# --- the Postgres record: the guard that holds without Redis ---------------------------------------


def idempotency_table(metadata: MetaData) -> Table:
    """The idempotency keys inside a service's own schema (like the outbox, each service has one)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer, nullable=True),
        Column("media_type", String(255), nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # The purge finds expired rows through it (aos_common.migrations adds it in each service).
        Index("ix_idempotency_keys_created_at", "created_at"),
    )


def expired_keys(table: Table) -> ColumnElement[bool]:
    """Rows past the keys' lifetime: taken over by a new request, deleted by the purge."""
    lifetime: ColumnClause[Any] = literal_column(f"interval '{IDEMPOTENCY_TTL_SECONDS} seconds'")
    return table.c.created_at < func.now() - lifetime


IN_FLIGHT_WAIT = "200ms"
LOCK_NOT_AVAILABLE = "55P03"
_WAIT_AT_MOST = text(
    "SELECT current_setting('lock_timeout') AS previous, set_config('lock_timeout', :wait, true)"
)
_RESTORE_WAIT = text("SELECT set_config('lock_timeout', :wait, true)")


def _sqlstate(error: DBAPIError) -> str | None:
    original = error.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


@dataclass(frozen=True)
class RecordedKey:
    fingerprint: str
    stored: StoredResponse | None


async def claim_key(
    session: AsyncSession, table: Table, tenant_id: str, key: str, fingerprint: str
) -> RecordedKey | None:
    """Insert the key in the request's transaction; None when this request owns it now.

    A concurrent request with the same key waits on the row up to IN_FLIGHT_WAIT until the
    owner's transaction ends, then sees the committed row (and its reply) or, after a rollback
    (the owner failed or its process died), claims the key itself; past the wait the key is in
    progress (409). A row older than the 24 h lifetime is taken over as if absent.
    """
    previous = (await session.execute(_WAIT_AT_MOST, {"wait": IN_FLIGHT_WAIT})).scalar_one()
    new_row = insert(table).values(tenant_id=tenant_id, key=key, fingerprint=fingerprint)
    statement = new_row.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.key],
        set_={
            "fingerprint": fingerprint,
            "status": None,
            "media_type": None,
            "body": None,
            "created_at": func.now(),
        },
        where=expired_keys(table),
    ).returning(table.c.key)
    try:
        claimed = (await session.execute(statement)).first() is not None
    except DBAPIError as error:
        if _sqlstate(error) == LOCK_NOT_AVAILABLE:
            raise Conflict(KEY_IN_PROGRESS) from error
        raise
    await session.execute(_RESTORE_WAIT, {"wait": previous})
    if claimed:
        return None
    row = (
        await session.execute(
            select(table.c.fingerprint, table.c.status, table.c.body, table.c.media_type).where(
                table.c.tenant_id == tenant_id, table.c.key == key
            )
        )
    ).one()
    stored = None
    if row.status is not None:
        stored = StoredResponse(row.status, bytes(row.body), row.media_type)
    return RecordedKey(row.fingerprint, stored)


async def record_reply(
    session: AsyncSession, table: Table, tenant_id: str, key: str, stored: StoredResponse
) -> None:
    """Keep the reply on the key's row; it commits with the write it describes."""
    await session.execute(
        update(table)
        .where(table.c.tenant_id == tenant_id, table.c.key == key)
        .values(status=stored.status, media_type=stored.media_type, body=stored.body)
    )


async def forget_key(session: AsyncSession, table: Table, tenant_id: str, key: str) -> None:
    """Drop a claimed key whose request failed, so that the client can retry with it."""
    await session.execute(delete(table).where(table.c.tenant_id == tenant_id, table.c.key == key))


# --- the route helper ------------------------------------------------------------------------------


Redactor = Callable[[dict[str, Any]], dict[str, Any]]


def _replay(stored: StoredResponse) -> Response:
    return Response(
        stored.body,
        status_code=stored.status,
        media_type=stored.media_type,
        headers={"Idempotent-Replayed": "true"},
    )


def _stored_reply(response: Response, redact: Redactor | None) -> StoredResponse:
    if redact is None:
        return StoredResponse(
            response.status_code, bytes(response.body), response.media_type or "application/json"
        )
    redacted = orjson.dumps(redact(orjson.loads(bytes(response.body))))
    return StoredResponse(response.status_code, redacted, "application/json")


class _FastPath:
    """The Redis side of one request: every call degrades to a no-op when Redis is unreachable."""

    def __init__(self, store: IdempotencyStore, tenant_id: str, key: str, fingerprint: str) -> None:
        self._store = store
        self._args = (tenant_id, key, fingerprint)
        self.claimed = False

    async def begin(self) -> IdempotencyDecision | None:
        try:
            decision = await self._store.begin(*self._args)
        except RedisError as error:
            logger.warning("idempotency fast path unavailable, Postgres decides: %s", error)
            return None
        self.claimed = decision.outcome is IdempotencyOutcome.NEW
        return decision

    async def complete(self, stored: StoredResponse) -> None:
        """Safe for any request: the script only completes a key in progress with this body."""
        try:
            await self._store.complete(*self._args, stored)
        except RedisError:
            logger.warning("could not keep the idempotent reply in Redis for key %s", self._args[1])

    async def release(self) -> None:
        if not self.claimed:
            return
        try:
            await self._store.release(*self._args)
        except RedisError:
            logger.warning("could not release idempotency key %s in Redis", self._args[1])


async def idempotent(
    request: Request,
    session: AsyncSession,
    tenant_id: str,
    produce: Callable[[], Awaitable[Response]],
    *,
    redact: Redactor | None = None,
) -> Response:
    """Run a creating POST at most once per `Idempotency-Key`.

    The key and the reply are written to Postgres in the request's transaction, so they commit
    with the data or vanish with it; Redis learns the reply after the commit. A failed request
    (an exception, or a reply of 400 or more) leaves no key behind, so the client can retry.
    A reply carrying a secret (a new API key) passes `redact`: what is kept, and what a replay
    shows, is the JSON reply with the secret removed, since the secret must be stored nowhere.
    """
    key = request.headers.get("idempotency-key")
    if not key:
        return await produce()
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(KEY_TOO_LONG)
    state = service_state(request.app)
    table = state.idempotency_table
    if table is None:
        raise RuntimeError("this service has no idempotency_keys table (create_service_app)")
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    fast = _FastPath(state.idempotency, tenant_id, key, fingerprint)
    decision = await fast.begin()
    if decision is not None and decision.outcome is IdempotencyOutcome.CONFLICT:
        raise Conflict(KEY_REUSED)
    if decision is not None and decision.stored is not None:
        return _replay(decision.stored)
    try:
        recorded = await claim_key(session, table, tenant_id, key, fingerprint)
        if recorded is not None:
            if recorded.fingerprint != fingerprint:
                raise Conflict(KEY_REUSED)
            if recorded.stored is None:
                raise Conflict(KEY_IN_PROGRESS)
            await fast.complete(recorded.stored)
            return _replay(recorded.stored)
        # Redis may have said "in progress" for a request that died; Postgres gave us the key.
        fast.claimed = True
        response = await produce()
    except BaseException:
        await fast.release()
        raise
    if response.status_code >= 400:
        await forget_key(session, table, tenant_id, key)
        await fast.release()
        return response
    stored = _stored_reply(response, redact)
    await record_reply(session, table, tenant_id, key, stored)
    on_commit(session, lambda: fast.complete(stored))
    on_rollback(session, fast.release)
    return response
