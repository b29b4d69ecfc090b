"""The AOS routes the SDK calls, as Call values both clients send the same way."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from aos_sdk._http import Call

MAX_TRACES_PER_BATCH = 1000
MAX_STEPS_PER_BATCH = 50_000
MAX_COSTS_PER_BATCH = 10_000

COST_FIELDS = frozenset(
    {
        "user_id",
        "feature_tag",
        "request_id",
        "workflow_id",
        "skill_id",
        "model",
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "reasoning_output_tokens",
        "cost_cents",
    }
)


def tenant() -> Call:
    return Call("GET", "/api/v1/tenant")


def start_run(worker_id: str, task: str, run_id: str | None) -> Call:
    body: dict[str, Any] = {"worker_id": worker_id, "task": task}
    if run_id:
        body["run_id"] = run_id
    return Call.write("POST", "/api/v1/runs", body, quota_call=True)


def complete_run(run_id: str, body: Mapping[str, Any]) -> Call:
    return Call.write("PATCH", f"/api/v1/runs/{run_id}", dict(body))


def get_run(run_id: str) -> Call:
    return Call("GET", f"/api/v1/runs/{run_id}")


def post_trace(trace: Mapping[str, Any], overwrite: bool = False) -> Call:
    return Call.write("POST", "/api/v1/traces", {"trace": dict(trace), "overwrite": overwrite})


def get_trace(run_or_trace_id: str) -> Call:
    return Call("GET", f"/api/v1/traces/{run_or_trace_id}")


def trace_batches(traces: Iterable[Mapping[str, Any]]) -> Iterator[Call]:
    """Chunks within the server's limits (1,000 traces or 50,000 steps per call)."""
    chunk: list[dict[str, Any]] = []
    steps = 0
    for trace in traces:
        n = len(trace.get("steps") or [])
        if chunk and (len(chunk) >= MAX_TRACES_PER_BATCH or steps + n > MAX_STEPS_PER_BATCH):
            yield Call.write("POST", "/api/v1/traces/batch", chunk)
            chunk, steps = [], 0
        chunk.append(dict(trace))
        steps += n
    if chunk:
        yield Call.write("POST", "/api/v1/traces/batch", chunk)


def cost_record(fields: Mapping[str, Any]) -> Call:
    return Call.write("POST", "/api/v1/cost/record", clean_cost(fields))


def cost_batch(records: list[dict[str, Any]]) -> Call:
    return Call.write("POST", "/api/v1/cost/records/batch", {"records": records})


def clean_cost(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - COST_FIELDS
    if unknown:
        raise TypeError(f"unknown cost record field(s): {', '.join(sorted(unknown))}")
    if not fields.get("model"):
        raise TypeError("a cost record needs a model")
    return {k: v for k, v in fields.items() if v is not None}


def batch_items(result: Any) -> list[Any]:
    """Per-item results of a batch answer, whatever wrapper key the server used."""
    if isinstance(result, list):
        return result
    if isinstance(result, dict):
        for key in ("results", "items", "records", "ids"):
            if isinstance(result.get(key), list):
                return list(result[key])
    return [result]
