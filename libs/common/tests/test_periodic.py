"""PeriodicTask: ticks on schedule, survives a failing tick, stops cleanly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aos_common.periodic import PeriodicTask, Tick, ticking

LOGGER = logging.getLogger("test.periodic")


def _counter(enough: int, *, fail_first: bool = False) -> tuple[list[int], asyncio.Event, object]:
    calls: list[int] = []
    reached = asyncio.Event()

    async def tick() -> None:
        calls.append(1)
        if len(calls) >= enough:
            reached.set()
        if fail_first and len(calls) == 1:
            raise RuntimeError("first tick fails")

    return calls, reached, tick


async def test_ticks_repeat_until_stopped() -> None:
    calls, reached, tick = _counter(3)
    task = PeriodicTask("counting", 0.01, tick, logger=LOGGER, first_tick_at_start=True)  # type: ignore[arg-type]
    task.start()
    await asyncio.wait_for(reached.wait(), 10)
    await task.stop()
    stopped_at = len(calls)
    await asyncio.sleep(0.05)
    assert len(calls) == stopped_at and not task.running


async def test_a_failing_tick_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, reached, tick = _counter(2, fail_first=True)
    task = PeriodicTask("flaky", 0.01, tick, logger=LOGGER, first_tick_at_start=True)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="test.periodic"):
        task.start()
        await asyncio.wait_for(reached.wait(), 10)
        await task.stop()
    assert "flaky failed" in caplog.text


async def test_without_first_tick_at_start_the_first_tick_waits_an_interval() -> None:
    calls, _, tick = _counter(1)
    task = PeriodicTask("later", 3600, tick, logger=LOGGER)  # type: ignore[arg-type]
    task.start()
    await asyncio.sleep(0.05)
    await task.stop()
    assert calls == []


def _stubborn(entered: asyncio.Event, release: asyncio.Event) -> Tick:
    """A tick stuck in a call that ignores cancellation (it swallows every cancel) until released."""

    async def tick() -> None:
        entered.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    return tick


async def test_stop_returns_within_its_bound_when_a_tick_ignores_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    tick = _stubborn(entered, release)
    task = PeriodicTask(
        "stubborn", 3600, tick, logger=LOGGER, first_tick_at_start=True, stop_timeout=0.2
    )
    task.start()
    await asyncio.wait_for(entered.wait(), 10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.ERROR, logger="test.periodic"):
        await asyncio.wait_for(task.stop(), 5)
    assert loop.time() - started < 2
    assert "stubborn did not stop within 0.2 s" in caplog.text
    release.set()


async def test_a_task_left_behind_by_stop_ends_once_its_tick_returns() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    tick = _stubborn(entered, release)
    task = PeriodicTask(
        "left-behind", 0.01, tick, logger=LOGGER, first_tick_at_start=True, stop_timeout=0.05
    )
    task.start()
    await asyncio.wait_for(entered.wait(), 10)
    [loop_task] = [t for t in asyncio.all_tasks() if t.get_name() == "left-behind"]
    await task.stop()
    release.set()
    await asyncio.wait_for(loop_task, 5)
    assert loop_task.done() and not loop_task.cancelled()


async def test_ticking_ticks_at_once_and_cancels_the_tick_when_its_context_closes() -> None:
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def tick() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async with ticking("scoped", 3600, tick, logger=LOGGER):
        await asyncio.wait_for(started.wait(), 10)
    assert cancelled == [True]


async def test_ticking_with_a_zero_interval_runs_nothing() -> None:
    calls, _, tick = _counter(1)
    async with ticking("disabled", 0, tick, logger=LOGGER):  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
    assert calls == []
