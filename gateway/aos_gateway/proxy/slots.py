"""The cap on connections per origin of the proxy's HTTP/1.1 pool (h1client.H1Pool).

Kept apart from the pool so the pool keeps to connections and exchanges: this is only counting
and a fair queue. A place is taken before a connection is opened and given back once it is
closed; a caller that finds none free waits, first come first served, until one is given back
or a connection goes idle (`notify`), or its deadline passes.
"""

from __future__ import annotations

import asyncio
import collections


class OriginSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[object, int] = collections.defaultdict(int)
        self.waiters: dict[object, collections.deque[asyncio.Future[None]]] = {}

    def count(self, origin: object) -> int:
        """Connections open or opening to `origin`, idle ones included."""
        return self._open.get(origin, 0)

    def try_take(self, origin: object) -> bool:
        if self._open[origin] >= self.limit:
            return False
        self._open[origin] += 1
        return True

    def give_back(self, origin: object) -> None:
        self._open[origin] -= 1
        if self.waiters:
            self.notify(origin)

    def notify(self, origin: object) -> None:
        """Wake the longest waiter for `origin`: a place or an idle connection is free."""
        waiters = self.waiters.get(origin)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break
        if waiters is not None and not waiters:
            del self.waiters[origin]

    async def wait(self, origin: object, deadline: float) -> None:
        """Until notified (then look again: someone else may have been quicker) or `deadline`
        (loop time) passes: TimeoutError."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(origin, collections.deque()).append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException:
            self._leave(origin, waiter)
            raise

    def _leave(self, origin: object, waiter: asyncio.Future[None]) -> None:
        """A waiter gives up (timed out or cancelled)."""
        if waiter.done() and not waiter.cancelled():
            self.notify(origin)  # it had been woken: pass the turn on to the next waiter
            return
        waiter.cancel()
        waiters = self.waiters.get(origin)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self.waiters[origin]
