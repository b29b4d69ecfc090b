"""Server-side replay of one step, by the step's recorded replay_behavior:
`execute` records the output (first truth wins per idempotency key), `skip` returns the output
cached for the step's idempotency key, `check` compares the output hash with the recorded one
and records a mismatch when they differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.errors import NotFound
from aos_proofs.trace_hash import hash_data
from aos_traces.domain.redaction import redact
from aos_traces.mismatches import repository as mismatches
from aos_traces.replay import repository
from aos_traces.traces import repository as traces
from aos_traces.traces.service import resolve_trace_id


async def replay_step(
    session: AsyncSession, tenant_id: str, key: str, step_index: int, output: Any, actor: str
) -> dict[str, Any]:
    trace_id = await resolve_trace_id(session, tenant_id, key)
    step = await repository.load_step(session, tenant_id, trace_id, step_index)
    if step is None:
        raise NotFound(f"Step {step_index} not found in trace {trace_id}")
    behavior = step["replay_behavior"]
    actual = hash_data(output)
    result: dict[str, Any] = {
        "trace_id": trace_id,
        "step_index": step_index,
        "replay_behavior": behavior,
    }
    if behavior == "check":
        expected = step["output_hash"]
        match = expected == actual
        result.update(match=match, expected_hash=expected, actual_hash=actual)
        if not match:
            mismatch_id = await mismatches.insert_mismatch(
                session,
                tenant_id=tenant_id,
                trace_id=trace_id,
                step_index=step_index,
                reason="output_mismatch",
                expected_hash=expected,
                actual_hash=actual,
                details={"source": "replay_check"},
                reported_by=actor,
            )
            result["mismatch_id"] = str(mismatch_id)
        await repository.record_check(
            session,
            tenant_id=tenant_id,
            trace_id=trace_id,
            step_index=step_index,
            behavior=behavior,
            expected_hash=expected,
            actual_hash=actual,
            match=match,
        )
        return result
    idempotency_key = step["idempotency_key"]
    if behavior == "skip":
        cached = (
            None
            if idempotency_key is None
            else await traces.idempotency_record(session, tenant_id, idempotency_key)
        )
        output = None if cached is None else cached["output"]
        if cached is not None and output is None:
            output = await repository.step_output(
                session, tenant_id, cached["trace_id"], cached["step_index"]
            )
        result.update(
            executed=False,
            cached=cached is not None,
            idempotency_key=idempotency_key,
            output=output,
            output_hash=None if cached is None else cached["output_hash"],
        )
        await repository.record_check(
            session,
            tenant_id=tenant_id,
            trace_id=trace_id,
            step_index=step_index,
            behavior=behavior,
            expected_hash=result["output_hash"],
            actual_hash=None,
            match=None,
        )
        return result
    recorded = False
    if idempotency_key is not None:
        recorded = await repository.record_execution(
            session,
            tenant_id=tenant_id,
            key=idempotency_key,
            trace_id=trace_id,
            step_index=step_index,
            status=step["status"],
            output_hash=actual,
            output=redact(output),
        )
    await repository.record_check(
        session,
        tenant_id=tenant_id,
        trace_id=trace_id,
        step_index=step_index,
        behavior=behavior,
        expected_hash=step["output_hash"],
        actual_hash=actual,
        match=None,
    )
    result.update(
        executed=True, recorded=recorded, idempotency_key=idempotency_key, output_hash=actual
    )
    return result
