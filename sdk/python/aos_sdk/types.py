"""Typed results of the client's calls (frozen dataclasses).

Each result names the fields the API documents; `raw` keeps the whole answer, and item access
(`result["id"]`, `result.get("x")`) reads `raw`, so code written against the earlier dict results
keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, TypeVar

R = TypeVar("R", bound="Result")


def _unwrap(payload: Any) -> dict[str, Any]:
    """The answer (the client already removed the envelope) as a dict."""
    return dict(payload) if isinstance(payload, Mapping) else {"result": payload}


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


@dataclass(frozen=True)
class Result:
    raw: dict[str, Any] = field(repr=False, compare=False)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.raw

    @classmethod
    def from_json(cls: type[R], payload: Any) -> R:
        data = _unwrap(payload)
        known = {f.name for f in fields(cls)} - {"raw"}
        values = {name: data.get(name) for name in known}
        return cls(raw=data, **cls._convert(values))

    @classmethod
    def _convert(cls, values: dict[str, Any]) -> dict[str, Any]:
        return values


@dataclass(frozen=True)
class Tenant(Result):
    id: str = ""
    name: str | None = None
    plan: str | None = None


@dataclass(frozen=True)
class RunInfo(Result):
    """A run as the tenants service knows it (start and completion answers)."""

    id: str = ""
    worker_id: str | None = None
    task: str | None = None
    status: str | None = None
    created_at: str | None = None
    completed_at: str | None = None


@dataclass(frozen=True)
class TraceStored(Result):
    trace_id: str = ""
    root_hash: str | None = None
    stored: bool | None = None
    replay_mode: str | None = None


@dataclass(frozen=True)
class Trace(Result):
    """A stored trace; `steps` as the server returns them."""

    trace_id: str = ""
    run_id: str | None = None
    agent_id: str | None = None
    status: str | None = None
    root_hash: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def _convert(cls, values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "steps": list(values.get("steps") or [])}


@dataclass(frozen=True)
class CostRecorded(Result):
    """One recorded cost; `duplicate` when the request id was already recorded."""

    id: str = ""
    status: str | None = None
    cost_cents: Decimal | None = None
    price_version: str | None = None
    duplicate: bool = False

    @classmethod
    def _convert(cls, values: dict[str, Any]) -> dict[str, Any]:
        return {
            **values,
            "cost_cents": _decimal(values.get("cost_cents")),
            "duplicate": bool(values.get("duplicate")),
        }


@dataclass(frozen=True)
class BatchItem(Result):
    """One item of a batch answer (traces or cost records), in the order sent."""

    index: int | None = None
    id: str | None = None
    trace_id: str | None = None
    status: str | None = None
    cost_cents: Decimal | None = None
    error: Any = None

    @classmethod
    def _convert(cls, values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "cost_cents": _decimal(values.get("cost_cents"))}


def batch_items(items: list[Any]) -> list[BatchItem]:
    return [BatchItem.from_json(item) for item in items]
