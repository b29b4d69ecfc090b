"""The one way a process runs background work on a schedule (outbox relay aside, which also wakes
on demand): a task that calls `tick` every `interval` seconds until stopped.

A tick that raises is logged and the next one runs on schedule — background work must neither die
silently nor take the process down. `stop()` cancels the loop and waits for it, but at most
`stop_timeout` seconds: a tick stuck in a call that ignores cancellation must not hang an app's
lifespan teardown (and so a deploy's shutdown), so past the bound the task is logged and left
behind; it ends by itself once that call returns. Holds nothing between ticks, so its memory never
grows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Tick = Callable[[], Awaitable[object]]
STOP_TIMEOUT_SECONDS = 5.0


async def stop_task(task: asyncio.Task[None], *, within: float, logger: logging.Logger) -> bool:
    """Cancel `task` and wait for it at most `within` seconds; False when it outlived the bound.

    Shared by every background loop (PeriodicTask, the outbox relay), so that no shutdown waits on
    a task without a bound.
    """
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        logger.error(
            "%s did not stop within %g s of its cancellation; left to end by itself",
            task.get_name(),
            within,
        )
        return False
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s ended with an error", task.get_name(), exc_info=task.exception())
    return True


class PeriodicTask:
    def __init__(
        self,
        name: str,
        interval: float,
        tick: Tick,
        *,
        logger: logging.Logger,
        first_tick_at_start: bool = False,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        self.name = name
        self._interval = interval
        self._tick = tick
        self._logger = logger
        self._first_tick_at_start = first_tick_at_start
        self._stop_timeout = stop_timeout
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait for it, at most `stop_timeout` seconds."""
        if self._task is None:
            return
        self._stopping = True  # a tick that swallowed the cancellation ends the loop after it
        task, self._task = self._task, None
        await stop_task(task, within=self._stop_timeout, logger=self._logger)

    async def _run(self) -> None:
        if not self._first_tick_at_start:
            await asyncio.sleep(self._interval)
        while not self._stopping:
            try:
                await self._tick()
            except Exception:
                self._logger.exception(
                    "%s failed; the next run is in %g s", self.name, self._interval
                )
            if self._stopping:
                return
            await asyncio.sleep(self._interval)


@asynccontextmanager
async def ticking(
    name: str, interval: float, tick: Tick, *, logger: logging.Logger
) -> AsyncIterator[None]:
    """Run `tick` at once and then every `interval` seconds while the context is open; an
    interval of 0 or less runs nothing. The one shape of an app's scheduled background job, so a
    lifespan does not rewrite the start-if-enabled / stop-on-exit dance."""
    task = PeriodicTask(name, interval, tick, logger=logger, first_tick_at_start=True)
    if interval > 0:
        task.start()
    try:
        yield
    finally:
        await task.stop()
