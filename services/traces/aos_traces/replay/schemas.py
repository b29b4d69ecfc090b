"""The replay route's request and answer, and the replay checks it records as they are read."""

from __future__ import annotations

import uuid
from datetime import datetime
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


class ReplayCheckRead(BaseModel):
    """One recorded replay call (GET /{trace_id}/replay/checks). `match` is true or false for a
    `check` (the output hash equalled the recorded one, or not) and null for `skip` and `execute`,
    which compare nothing; `checked_by` is the principal that replayed (null on checks recorded
    before it was stored)."""

    check_id: uuid.UUID
    trace_id: str
    step_index: int
    replay_behavior: str
    match: bool | None
    expected_hash: str | None
    actual_hash: str | None
    checked_by: str | None
    checked_at: datetime
