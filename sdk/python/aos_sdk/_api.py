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


def cost_batches(records: Iterable[Mapping[str, Any]]) -> Iterator[Call]:
    """Cost records checked, then chunked within the server's per-call limit."""
    cleaned = [clean_cost(r) for r in records]
    for i in range(0, len(cleaned), MAX_COSTS_PER_BATCH):
        yield cost_batch(cleaned[i : i + MAX_COSTS_PER_BATCH])


def run_completion(status: str, totals: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": status, **{k: v for k, v in totals.items() if v is not None}}


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


class PendingCosts:
    """Cost records waiting to go out in batches of `batch_size`, shared by both clients'
    batchers. Each batch is one write with its own Idempotency-Key; one whose send failed stays
    first in line with its original key, so a retried batch is stored once."""

    def __init__(self, batch_size: int = 100) -> None:
        if not 1 <= batch_size <= MAX_COSTS_PER_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_COSTS_PER_BATCH}")
        self.batch_size = batch_size
        self.pending: list[dict[str, Any]] = []
        self.results: list[Any] = []
        self.batches_sent = 0
        self._unsent: Call | None = None

    def queue(self, model: str, fields: Mapping[str, Any]) -> bool:
        """Add a record; True when a full batch is waiting."""
        self.pending.append(clean_cost({"model": model, **fields}))
        return len(self.pending) >= self.batch_size

    def next_call(self) -> Call | None:
        if self._unsent is None and self.pending:
            self._unsent = cost_batch(self.pending[: self.batch_size])
            self.pending = self.pending[self.batch_size :]
        return self._unsent

    def sent(self, result: Any) -> None:
        self._unsent = None
        self.results.extend(batch_items(result))
        self.batches_sent += 1
