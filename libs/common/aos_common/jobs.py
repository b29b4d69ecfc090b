"""A small background-job runner for scheduled work (anomaly detection, retention, large exports).

A job is an async callable taking a `JobContext`; the runner retries it under a `RetryPolicy`
(fixed, linear, exponential or fibonacci delays with jitter, and a filter deciding which errors are
worth retrying), reports progress (percentage and ETA) and records hash-chained events so a job's
history cannot be rewritten unnoticed.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aos_proofs.trace_hash import canonical_json, sha256_hex

GENESIS_HASH = "0" * 64


class RetryStrategy(enum.StrEnum):
    FIXED = "fixed"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"
    FIBONACCI = "fibonacci"


def _fibonacci(n: int) -> int:
    a, b = 1, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@dataclass(frozen=True)
class RetryPolicy:
    strategy: RetryStrategy = RetryStrategy.EXPONENTIAL
    base_delay: float = 1.0
    max_delay: float = 300.0
    max_attempts: int = 5
    jitter: float = 0.1
    retryable: Callable[[BaseException], bool] = lambda error: True

    def delay(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Delay before retry number `attempt` (0-based), capped, with +/- `jitter` proportion."""
        if self.strategy is RetryStrategy.FIXED:
            raw = self.base_delay
        elif self.strategy is RetryStrategy.LINEAR:
            raw = self.base_delay * (attempt + 1)
        elif self.strategy is RetryStrategy.EXPONENTIAL:
            raw = self.base_delay * (2**attempt)
        else:
            raw = self.base_delay * _fibonacci(attempt)
        capped = min(raw, self.max_delay)
        spread = capped * self.jitter
        return max(0.0, capped + (rng or random).uniform(-spread, spread))


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    sequence: int
    kind: str
    data: dict[str, Any]
    at: float
    prev_hash: str
    event_hash: str


@dataclass
class JobRecord:
    job_id: str
    name: str
    state: JobState = JobState.PENDING
    attempts: int = 0
    done: int = 0
    total: int | None = None
    started_at: float | None = None
    result: Any = None
    error: str | None = None
    events: list[JobEvent] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        if not self.total:
            return None
        return round(100.0 * self.done / self.total, 1)

    @property
    def eta_seconds(self) -> float | None:
        """Remaining time at the average rate so far; None until there is a rate to extrapolate."""
        if not self.total or not self.done or self.started_at is None:
            return None
        elapsed = time.monotonic() - self.started_at
        return elapsed / self.done * (self.total - self.done)

    def record(self, kind: str, **data: Any) -> JobEvent:
        prev_hash = self.events[-1].event_hash if self.events else GENESIS_HASH
        sequence = len(self.events) + 1
        at = time.time()
        body = {
            "job_id": self.job_id,
            "sequence": sequence,
            "kind": kind,
            "data": data,
            "at": at,
            "prev_hash": prev_hash,
        }
        event = JobEvent(
            self.job_id, sequence, kind, data, at, prev_hash, sha256_hex(canonical_json(body))
        )
        self.events.append(event)
        return event

    def chain_intact(self) -> bool:
        prev_hash = GENESIS_HASH
        for event in self.events:
            body = {
                "job_id": event.job_id,
                "sequence": event.sequence,
                "kind": event.kind,
                "data": event.data,
                "at": event.at,
                "prev_hash": event.prev_hash,
            }
            if event.prev_hash != prev_hash or event.event_hash != sha256_hex(canonical_json(body)):
                return False
            prev_hash = event.event_hash
        return True


class JobContext:
    def __init__(self, record: JobRecord) -> None:
        self._record = record

    def set_total(self, total: int) -> None:
        self._record.total = total

    def advance(self, amount: int = 1) -> None:
        self._record.done += amount


JobFunction = Callable[[JobContext], Awaitable[Any]]


class JobRunner:
    def __init__(self, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self._sleep = sleep
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(
        self, name: str, function: JobFunction, policy: RetryPolicy | None = None
    ) -> JobRecord:
        """Run a job to completion (success or final failure) and return its record."""
        policy = policy or RetryPolicy()
        record = JobRecord(job_id=str(uuid.uuid4()), name=name)
        self.jobs[record.job_id] = record
        record.started_at = time.monotonic()
        record.record("created", name=name)
        while True:
            record.attempts += 1
            record.state = JobState.RUNNING
            record.record("started", attempt=record.attempts)
            try:
                record.result = await function(JobContext(record))
            except Exception as error:
                record.error = f"{type(error).__name__}: {error}"
                final = record.attempts >= policy.max_attempts or not policy.retryable(error)
                if final:
                    record.state = JobState.FAILED
                    record.record("failed", attempt=record.attempts, error=record.error)
                    return record
                delay = policy.delay(record.attempts - 1)
                record.state = JobState.RETRYING
                record.record("retrying", attempt=record.attempts, error=record.error, delay=delay)
                await self._sleep(delay)
            else:
                record.state = JobState.SUCCEEDED
                record.error = None
                record.record("succeeded", attempt=record.attempts)
                return record

    def schedule(
        self,
        name: str,
        function: JobFunction,
        *,
        every_seconds: float,
        policy: RetryPolicy | None = None,
    ) -> asyncio.Task[None]:
        """Run `function` every `every_seconds` until cancelled (each run retried per `policy`)."""

        async def loop() -> None:
            while True:
                await self.run(name, function, policy)
                await self._sleep(every_seconds)

        task = asyncio.create_task(loop(), name=f"job:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
