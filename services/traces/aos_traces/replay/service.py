"""Server-side replay of one step, by the step's recorded replay_behavior:
`execute` records the output (first truth wins per idempotency key), `skip` returns the output
cached for the step's idempotency key, `check` compares the output hash with the recorded one
and records a mismatch when they differ."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.errors import NotFound
from aos_proofs.trace_hash import hash_data
from aos_traces.domain.redaction import redact
from aos_traces.mismatches import repository as mismatches
from aos_traces.replay import repository
from aos_traces.replay.schemas import ReplayCheckRead
from aos_traces.traces import repository as traces
from aos_traces.traces.service import resolve_trace_id


@dataclass(frozen=True)
class StepReplay:
    """The step being replayed, who replays it, and where its replay check is recorded."""

    session: AsyncSession
    tenant_id: str
    trace_id: str
    step_index: int
    step: dict[str, Any]
    actor: str

    async def record_check(
        self, expected_hash: str | None, actual_hash: str | None, match: bool | None
    ) -> None:
        await repository.record_check(
            self.session,
            tenant_id=self.tenant_id,
            trace_id=self.trace_id,
            step_index=self.step_index,
            behavior=self.step["replay_behavior"],
            expected_hash=expected_hash,
            actual_hash=actual_hash,
            match=match,
            checked_by=self.actor,
        )


async def replay_step(
    session: AsyncSession, tenant_id: str, key: str, step_index: int, output: Any, actor: str
) -> dict[str, Any]:
    """Load the step and replay it by its behaviour (an unknown one executes)."""
    trace_id = await resolve_trace_id(session, tenant_id, key)
    step = await repository.load_step(session, tenant_id, trace_id, step_index)
    if step is None:
        raise NotFound(f"Step {step_index} not found in trace {trace_id}")
    behavior = step["replay_behavior"]
    replay = StepReplay(session, tenant_id, trace_id, step_index, step, actor)
    result: dict[str, Any] = {
        "trace_id": trace_id,
        "step_index": step_index,
        "replay_behavior": behavior,
    }
    result.update(await BEHAVIORS.get(behavior, execute)(replay, output, actor))
    return result


async def list_checks(
    session: AsyncSession,
    tenant_id: str,
    key: str,
    *,
    step_index: int | None,
    latest_per_step: bool,
    limit: int,
    offset: int,
) -> tuple[list[ReplayCheckRead], int]:
    """A trace's recorded replay checks (404 for a trace this tenant does not have)."""
    trace_id = await resolve_trace_id(session, tenant_id, key)
    return await repository.list_checks(
        session,
        tenant_id,
        trace_id,
        step_index=step_index,
        latest_per_step=latest_per_step,
        limit=limit,
        offset=offset,
    )


async def check(replay: StepReplay, output: Any, actor: str) -> dict[str, Any]:
    """Compare the output's hash with the recorded one; a difference is recorded as a mismatch."""
    expected = replay.step["output_hash"]
    actual = hash_data(output)
    match = expected == actual
    result: dict[str, Any] = {"match": match, "expected_hash": expected, "actual_hash": actual}
    if not match:
        mismatch_id = await mismatches.insert_mismatch(
            replay.session,
            tenant_id=replay.tenant_id,
            trace_id=replay.trace_id,
            step_index=replay.step_index,
            reason="output_mismatch",
            expected_hash=expected,
            actual_hash=actual,
            details={"source": "replay_check"},
            reported_by=actor,
        )
        result["mismatch_id"] = str(mismatch_id)
    await replay.record_check(expected, actual, match)
    return result


async def skip(replay: StepReplay, output: Any, actor: str) -> dict[str, Any]:
    """Return the output recorded for the step's idempotency key, without executing anything."""
    idempotency_key = replay.step["idempotency_key"]
    cached = (
        None
        if idempotency_key is None
        else await traces.idempotency_record(replay.session, replay.tenant_id, idempotency_key)
    )
    cached_output = None if cached is None else cached["output"]
    if cached is not None and cached_output is None:
        cached_output = await repository.step_output(
            replay.session, replay.tenant_id, cached["trace_id"], cached["step_index"]
        )
    output_hash = None if cached is None else cached["output_hash"]
    await replay.record_check(output_hash, None, None)
    return {
        "executed": False,
        "cached": cached is not None,
        "idempotency_key": idempotency_key,
        "output": cached_output,
        "output_hash": output_hash,
    }


async def execute(replay: StepReplay, output: Any, actor: str) -> dict[str, Any]:
    """Record the output under the step's idempotency key (first truth wins)."""
    idempotency_key = replay.step["idempotency_key"]
    actual = hash_data(output)
    recorded = False
    if idempotency_key is not None:
        recorded = await repository.record_execution(
            replay.session,
            tenant_id=replay.tenant_id,
            key=idempotency_key,
            trace_id=replay.trace_id,
            step_index=replay.step_index,
            status=replay.step["status"],
            output_hash=actual,
            output=redact(output),
        )
    await replay.record_check(replay.step["output_hash"], actual, None)
    return {
        "executed": True,
        "recorded": recorded,
        "idempotency_key": idempotency_key,
        "output_hash": actual,
    }


Behavior = Callable[[StepReplay, Any, str], Awaitable[dict[str, Any]]]
BEHAVIORS: dict[str, Behavior] = {"check": check, "skip": skip, "execute": execute}
