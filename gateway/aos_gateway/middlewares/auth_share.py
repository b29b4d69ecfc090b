"""Forward-auth's concurrency share, per credential.

Forward-auth calls run before the tenant is known, so the tenant's concurrency share (inFlightReq,
after auth) cannot count them. Without a share of their own, one credential could keep any number
of calls in flight at the tenants service: a bad key is never cached, so each request of a flood
with it asks. Here at most `amount` calls per key (the credential's hash, or the client address
without one) are in flight per gateway replica; the next requests with that key wait for a slot, up
to `wait` seconds, then are refused (429). Waiting rather than refusing at once keeps a legitimate
client opening many connections on a cold cache (or when its grant expires) from seeing 429s: its
calls go `amount` at a time. Keys are dropped when idle, so memory follows what is in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

AUTH_SHARE = 32


@dataclass
class _Slots:
    semaphore: asyncio.Semaphore
    users: int = field(default=0)


class AuthShare:
    def __init__(self, amount: int = AUTH_SHARE) -> None:
        self.amount = amount
        self._slots: dict[str, _Slots] = {}

    @property
    def keys(self) -> int:
        """Keys with a call in flight or waiting (0 when idle)."""
        return len(self._slots)

    @asynccontextmanager
    async def slot(self, key: str, *, wait: float) -> AsyncIterator[bool]:
        """Hold one of `key`'s slots inside; yields False when none freed within `wait` s."""
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = _Slots(asyncio.Semaphore(self.amount))
        slots.users += 1
        try:
            try:
                async with asyncio.timeout(wait):
                    await slots.semaphore.acquire()
            except TimeoutError:
                yield False
                return
            try:
                yield True
            finally:
                slots.semaphore.release()
        finally:
            slots.users -= 1
            if slots.users == 0:
                del self._slots[key]
