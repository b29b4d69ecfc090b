"""The outbox batch protocol: many messages per call, one answer per message.

A receiving route `P` that de-duplicates on the message id has a batch twin (`BATCH_ROUTES`)
taking `{"messages": [payload, ...]}` (each payload as `enqueue` stored it, `id` included) and
answering 200 `{"results": [{"index", "id", "status", "detail"}, ...]}`, one per message in
order. `stored` and `duplicate` are final, so the relay marks them delivered; `refused` is the
receiver declining that message alone (kept and retried slowly, like a single route's 4xx); the
others of the batch are unaffected. A batch is one transaction on the receiver: if it fails
(5xx, timeout), nothing of it was stored and the relay retries every message, which the
de-duplication on the id makes safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

MAX_BATCH_MESSAGES = 1000
"""Messages per call: ~0.5 MB of cost records, a few ms of the receiver's database time."""

BATCH_ROUTES: Mapping[tuple[str, str], str] = {
    ("cost-intel", "/internal/v1/cost/records"): "/internal/v1/cost/records/batch",
    ("audit-ledger", "/internal/v1/audit/entries"): "/internal/v1/audit/entries/batch",
}
"""(destination, single route) → the batch route the relay posts to instead."""

UNORDERED_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {("cost-intel", "/internal/v1/cost/records")}
)
"""Routes whose batches of one relay pass may travel in parallel (each cost record carries its
own time); the others (audit entries: a ledger's order is its history) go one after another."""

Status = Literal["stored", "duplicate", "refused"]
T = TypeVar("T")


class OutboxBatch(BaseModel):
    """A batch as the relay sends it; each message is validated on its own by the receiver."""

    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH_MESSAGES)


async def read_batch(request: Request) -> OutboxBatch:
    """The request's batch, parsed and validated in one pass by pydantic's JSON reader: a batch
    is up to a thousand messages, and FastAPI's `json.loads` then validation cost the receiver
    more than storing them. A body that is not a batch is the same 422 as a route's own."""
    try:
        return OutboxBatch.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
        ) from error


class MessageResult(BaseModel):
    index: int
    id: str | None
    status: Status
    detail: str | None = None


class OutboxBatchResult(BaseModel):
    results: list[MessageResult]


def result(
    index: int, message: Mapping[str, Any], status: Status, detail: str | None = None
) -> dict[str, Any]:
    """One answer row, as a plain dict (1,000 models cost more than the batch's own work)."""
    message_id = message.get("id")
    return {
        "index": index,
        "id": message_id if isinstance(message_id, str) else None,
        "status": status,
        "detail": detail,
    }


def refusal(error: ValidationError) -> str:
    """The first validation problem of one message, as a sentence."""
    problems = error.errors()
    if not problems:
        return "The message is not valid."
    first = problems[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or "message"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"Invalid message: {field}: {first.get('msg')}{more}"


def validate_each(
    messages: Sequence[dict[str, Any]], adapter: TypeAdapter[T]
) -> tuple[list[tuple[int, T]], list[dict[str, Any]]]:
    """(index, validated message) of the valid ones, and the `refused` answers of the others: one
    bad message never refuses its neighbours."""
    valid: list[tuple[int, T]] = []
    refused: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        try:
            valid.append((index, adapter.validate_python(message)))
        except ValidationError as error:
            refused.append(result(index, message, "refused", refusal(error)))
    return valid, refused


def ordered(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The answer body: results sorted back into the order of the batch."""
    return {"results": sorted(results, key=lambda row: row["index"])}
