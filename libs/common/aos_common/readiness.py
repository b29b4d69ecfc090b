"""`/readyz` of every service: ready when its database and Redis both answer, and the answer comes
within a second whatever state they are in.

A frozen server (SIGSTOPped, or a network that drops packets) accepts connections and never
answers. Timing a probe out is not enough: cancelling it runs its clean-up (returning the
connection to the pool rolls it back), which waits on the same frozen server. So a probe runs as a
task of its own, is abandoned rather than awaited when the budget runs out, and no second probe of
that backend starts while the first is still stuck.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from aos_common.envelope import json_response
from aos_common.errors import problem_response
from aos_common.state import service_state

READY_CHECK_SECONDS = 0.5
STILL_WAITING = "unavailable: the previous check is still waiting for an answer"
NO_ANSWER = f"unavailable: no answer within {READY_CHECK_SECONDS:g} s"
Probe = Callable[[], Coroutine[Any, Any, object]]


async def _database_answers(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _redis_answers(redis: Redis) -> None:
    await redis.ping()


def _consume(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()


class ReadinessProbes:
    """The probes of one app; at most one in flight per backend."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Task[object]] = {}

    async def check(self, name: str, probe: Probe) -> str:
        pending = self._pending.get(name)
        if pending is not None and not pending.done():
            return STILL_WAITING
        task = asyncio.ensure_future(probe())
        task.add_done_callback(_consume)
        self._pending[name] = task
        done, _ = await asyncio.wait({task}, timeout=READY_CHECK_SECONDS)
        if not done:
            task.cancel()
            return NO_ANSWER
        if task.cancelled():
            return "unavailable: cancelled"
        error = task.exception()
        return "ok" if error is None else f"unavailable: {type(error).__name__}"


async def readyz(request: Request) -> Response:
    """Ready when this service's database and Redis both answer (probed at once, each bounded)."""
    state = service_state(request.app)
    probes = state.readiness
    database, redis = await asyncio.gather(
        probes.check("database", lambda: _database_answers(state.engine)),
        probes.check("redis", lambda: _redis_answers(state.redis)),
    )
    checks = {"database": database, "redis": redis}
    failing = [name for name, status in checks.items() if status != "ok"]
    if failing:
        return problem_response(
            503,
            f"Not ready: {', '.join(failing)} unavailable",
            instance=request.url.path,
            headers={"Retry-After": "1"},
            extra={"checks": checks},
        )
    return json_response({"status": "ready", "checks": checks})
