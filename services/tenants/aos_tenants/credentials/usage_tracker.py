"""Batched write-back of credential use, off the verification path.

Resolving a key must cost one Postgres round trip; recording that it was used (last_used_at,
total_requests, the `api_calls` meter) is accumulated in memory and flushed about once a second in
one statement per table. A crash loses at most one interval of these counters, never a key or a run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aos_tenants.credentials.repository import touch_keys

logger = logging.getLogger("aos.tenants.usage")


class KeyUsageTracker:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, interval_seconds: float = 1.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval_seconds
        self._keys: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._api_calls: defaultdict[str, int] = defaultdict(int)
        self._task: asyncio.Task[None] | None = None

    def key_used(self, tenant_id: str, key_id: str, *, requests: int = 0) -> None:
        self._keys[(tenant_id, key_id)] += requests

    def api_call(self, tenant_id: str) -> None:
        self._api_calls[tenant_id] += 1

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

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._task = asyncio.create_task(self._run(), name="key-usage-flush")
        try:
            yield
        finally:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            await self.flush()
