"""Hot reload of the document: poll its modification stamp, rebuild, swap.

A document that fails to load leaves the running configuration in force (logged, counted); the
gateway never serves a half-applied document.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from aos_gateway.config import ConfigError, load_config
from aos_gateway.runtime import Deps, Runtime

logger = logging.getLogger("aos.gateway.reload")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


class RuntimeHolder:
    """The one reference requests read; replaced whole on reload."""

    def __init__(self, path: Path, deps: Deps) -> None:
        self.path = path
        self.deps = deps
        self.current = Runtime(load_config(path), deps)
        self._stamp = _stamp(path)
        self._task: asyncio.Task[None] | None = None

    def start(self, interval: float) -> None:
        self.current.start()
        if interval > 0:
            self._task = asyncio.create_task(self._watch(interval), name="gateway-reload")

    async def reload(self) -> bool:
        """Load the file now; True when a new configuration is in force."""
        self._stamp = _stamp(self.path)
        try:
            config = load_config(self.path, os.environ)
        except ConfigError as error:
            logger.error("configuration reload refused, keeping the running one: %s", error)
            self.deps.metrics.reloads.labels("error").inc()
            return False
        previous = self.current
        runtime = Runtime(config, self.deps, previous)
        runtime.start()
        self.current = runtime
        await previous.retire(runtime)
        self.deps.metrics.reloads.labels("ok").inc()
        logger.info("configuration reloaded from %s", self.path)
        return True

    async def _watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            stamp = _stamp(self.path)
            if stamp != self._stamp:
                # Let a writer finish: reload only a file that stayed the same for a moment.
                await asyncio.sleep(min(interval, 0.2))
                if _stamp(self.path) != stamp:
                    continue
                try:
                    await self.reload()
                except Exception:  # the watcher must survive anything a bad file does
                    logger.exception("configuration reload failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.current.retire(None)
