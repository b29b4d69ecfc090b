"""The one way a process runs background work on a schedule (outbox relay aside, which also wakes
on demand): a task that calls `tick` every `interval` seconds until stopped.

A tick that raises is logged and the next one runs on schedule — background work must neither die
silently nor take the process down — and `stop()` cancels the loop and waits for it, so a clean
shutdown leaves no task behind. Holds nothing between ticks, so its memory never grows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

Tick = Callable[[], Awaitable[object]]


class PeriodicTask:
    def __init__(
        self,
        name: str,
        interval: float,
        tick: Tick,
        *,
        logger: logging.Logger,
        first_tick_at_start: bool = False,
    ) -> None:
        self.name = name
        self._interval = interval
        self._tick = tick
        self._logger = logger
        self._first_tick_at_start = first_tick_at_start
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self) -> None:
        if not self._first_tick_at_start:
            await asyncio.sleep(self._interval)
        while True:
            try:
                await self._tick()
            except Exception:
                self._logger.exception(
                    "%s failed; the next run is in %g s", self.name, self._interval
                )
            await asyncio.sleep(self._interval)
