"""Exact `api_calls` metering for requests let through on a cached forward-auth grant.

The tenants service counts one API call per forward-auth call. A request served from the gateway's
grant cache makes no such call, so the gateway counts it instead: one HINCRBY per request, in the
Redis round trip it already makes for the key's rate limit, on a hash per forward-auth address
(field = tenant and key). About once a second a reporter moves that hash aside under a fresh batch
id (atomically, so no increment is lost or counted twice between replicas) and posts the batch to
the forward-auth service's sibling `usage` route (`…/internal/v1/auth/usage`), signed as the
gateway. A batch is deleted only once the service accepted it; the service ignores a batch id it
has already recorded, so a retry after a lost answer does not count twice.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from aos_common.auth import Principal, service_principal, sign_context
from aos_common.periodic import PeriodicTask

logger = logging.getLogger("aos.gateway.usage")

# KEYS: counter hash, pending-batch set, the new batch's key. ARGV: the new batch id.
_SEAL = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  redis.call('SADD', KEYS[2], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[2])
"""
MAX_ENTRIES_PER_BATCH = 50_000
REPORT_TIMEOUT_SECONDS = 5.0


def usage_address(forward_address: str) -> str:
    """`…/auth/forward` → `…/auth/usage`: the route of the same service that takes the counts."""
    parts = urlsplit(forward_address)
    base = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{base}/usage", "", ""))


def usage_field(principal: Principal) -> str | None:
    """The hash field a cached request is counted under; None when nothing is metered (operator)."""
    if principal.tenant_id is None:
        return None
    key_id = principal.key_id if principal.principal_type == "api_key" else None
    return orjson.dumps([principal.tenant_id, key_id]).decode()


class UsageMeter:
    """Names the Redis counters per forward-auth address and reports them to their service."""

    def __init__(
        self,
        redis: Redis,
        client: httpx.AsyncClient,
        *,
        prefix: str,
        internal_secret: str,
        interval: float = 1.0,
    ) -> None:
        self._redis = redis
        self._client = client
        self._prefix = prefix
        self._secret = internal_secret
        self._seal = redis.register_script(_SEAL)
        self._addresses: set[str] = set()
        self._task = PeriodicTask("gateway-usage-report", interval, self.report, logger=logger)

    def _tag(self, address: str) -> str:
        digest = hashlib.sha256(address.encode()).hexdigest()[:16]
        return f"{self._prefix}:usage:{{{digest}}}"

    def counter(self, address: str) -> str:
        """The hash counting cache hits for `address`; registers the address for reporting."""
        self._addresses.add(address)
        return f"{self._tag(address)}:open"

    async def report(self) -> int:
        """Seal the open counters and send every pending batch; returns how many were accepted."""
        accepted = 0
        for address in sorted(self._addresses):
            tag = self._tag(address)
            batch_id = secrets.token_hex(16)
            try:
                pending = await self._seal(
                    keys=[f"{tag}:open", f"{tag}:pending", f"{tag}:batch:{batch_id}"],
                    args=[batch_id],
                )
            except (RedisError, OSError) as error:
                logger.warning("usage counters unavailable, will retry: %s", error)
                continue
            for raw_id in sorted(pending):
                pending_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                if await self._send(address, tag, pending_id):
                    accepted += 1
        return accepted

    async def _send(self, address: str, tag: str, batch_id: str) -> bool:
        key = f"{tag}:batch:{batch_id}"
        try:
            counts = await self._redis.hgetall(key)
        except (RedisError, OSError) as error:
            logger.warning("usage batch %s unreadable, will retry: %s", batch_id, error)
            return False
        entries = []
        for field, value in counts.items():
            try:
                tenant_id, key_id = orjson.loads(field)
                requests = int(value)
            except (ValueError, TypeError):
                logger.error("usage batch %s: unreadable entry %r dropped", batch_id, field)
                continue
            entries.append({"tenant_id": tenant_id, "key_id": key_id, "requests": requests})
        if entries:
            for start in range(0, len(entries), MAX_ENTRIES_PER_BATCH):
                chunk = entries[start : start + MAX_ENTRIES_PER_BATCH]
                chunk_id = batch_id if start == 0 else f"{batch_id}-{start}"
                if not await self._post(address, chunk_id, chunk):
                    return False
        try:
            await self._redis.delete(key)
            await self._redis.srem(f"{tag}:pending", batch_id)
        except (RedisError, OSError) as error:  # re-sent later, and ignored by the service
            logger.warning("usage batch %s sent but not cleared: %s", batch_id, error)
        return True

    async def _post(self, address: str, batch_id: str, entries: list[dict[str, object]]) -> bool:
        headers = sign_context(service_principal("gateway"), self._secret)
        try:
            response = await self._client.post(
                usage_address(address),
                content=orjson.dumps({"batch_id": batch_id, "entries": entries}),
                headers={**headers, "content-type": "application/json"},
                timeout=REPORT_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            logger.warning("usage report to %s failed, will retry: %s", address, error)
            return False
        if response.status_code >= 300:
            logger.warning(
                "usage report to %s refused (%s), will retry: %s",
                address,
                response.status_code,
                response.text[:300],
            )
            return False
        return True

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        """Stop the loop and report once more, so a clean shutdown leaves nothing behind."""
        await self._task.stop()
        try:
            await self.report()
        except Exception:
            logger.exception("final usage report failed")
