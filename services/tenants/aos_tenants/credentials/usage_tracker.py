"""Batched write-back of credential use, off the verification path.

Resolving a key must cost one Postgres round trip; recording that it was used (last_used_at,
total_requests, the `api_calls` meter) is accumulated in memory and flushed about once a second in
one statement per table. A crash loses at most one interval of these counters, never a key or a run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_common.errors import ServiceUnavailable
from aos_common.periodic import PeriodicTask
from aos_tenants.credentials.repository import touch_keys
from aos_tenants.credentials.schemas import UsageReport

logger = logging.getLogger("aos.tenants.usage")
BATCH_MEMORY_SECONDS = 7 * 24 * 3600
# The provenance of an api_calls record: counted at a forward-auth call, or reported by a gateway
# for the requests it served from its cache of forward-auth grants.
FORWARD_SOURCE = "tenants.forward_auth"
GATEWAY_SOURCE = "gateway.auth_cache"


class KeyUsageTracker:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, interval_seconds: float = 1.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval_seconds
        self._keys: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._api_calls: defaultdict[tuple[str, str], int] = defaultdict(int)

    def key_used(self, tenant_id: str, key_id: str, *, requests: int = 0) -> None:
        self._keys[(tenant_id, key_id)] += requests

    def api_call(self, tenant_id: str) -> None:
        self._api_calls[(tenant_id, FORWARD_SOURCE)] += 1

    def record(self, tenant_id: str, key_id: str | None, requests: int) -> None:
        """`requests` API calls counted elsewhere (a gateway's cached grants), as if forwarded."""
        if key_id is not None:
            self._keys[(tenant_id, key_id)] += requests
        self._api_calls[(tenant_id, GATEWAY_SOURCE)] += requests

    async def flush(self) -> None:
        # Sorted, so that concurrent flushes (several replicas) lock key rows in the same order.
        keys, self._keys = dict(sorted(self._keys.items())), defaultdict(int)
        api_calls, self._api_calls = dict(sorted(self._api_calls.items())), defaultdict(int)
        if not keys and not api_calls:
            return
        try:
            async with self._sessionmaker() as session, session.begin():
                await touch_keys(session, keys, api_calls)
        except Exception:
            logger.exception("could not write back key usage; %d keys dropped", len(keys))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        flusher = PeriodicTask("key-usage-flush", self._interval, self.flush, logger=logger)
        flusher.start()
        try:
            yield
        finally:
            await flusher.stop()
            await self.flush()


async def accept_report(redis: Redis, tracker: KeyUsageTracker, report: UsageReport) -> bool:
    """Count a gateway's usage report once: a batch id seen before (a retry after a lost answer,
    or another replica) is acknowledged without counting. False for such a repeat."""
    try:
        fresh = await redis.set(
            f"aos:tenants:usage-batch:{report.batch_id}", 1, nx=True, ex=BATCH_MEMORY_SECONDS
        )
    except (RedisError, OSError) as error:
        raise ServiceUnavailable(
            "Usage reports are unavailable; retry shortly", headers={"Retry-After": "1"}
        ) from error
    if not fresh:
        return False
    for entry in report.entries:
        tracker.record(entry.tenant_id, entry.key_id, entry.requests)
    return True
