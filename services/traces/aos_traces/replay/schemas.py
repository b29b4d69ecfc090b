"""The replay route's request and answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class ReplayStepRequest(BaseModel):
    output: Any = None


class ReplayResult(BaseModel):
    """One answer for the three behaviours; each fills its own fields and leaves the others out.

    - `check`: `match`, `expected_hash`, `actual_hash`, and `mismatch_id` when they differ.
    - `skip`: `executed` (false), `cached`, `idempotency_key`, `output`, `output_hash`.
    - `execute`: `executed` (true), `recorded`, `idempotency_key`, `output_hash`.
    """

    trace_id: str
    step_index: int
    replay_behavior: Literal["execute", "skip", "check"]
    match: bool | None = None
    expected_hash: str | None = None
    actual_hash: str | None = None
    mismatch_id: str | None = None
    executed: bool | None = None
    cached: bool | None = None
    recorded: bool | None = None
    idempotency_key: str | None = None
    output: Any = None
    output_hash: str | None = None
