"""The response envelope and provenance models of API.md Conventions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from starlette.responses import Response

from aos_common.request_context import current_request_id

PayloadT = TypeVar("PayloadT")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with an explicit offset, as every timestamp in the API is written."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


class Meta(BaseModel):
    timestamp: str
    request_id: str


class PageMeta(Meta):
    total: int
    page: int
    page_size: int
    has_more: bool


class Envelope(BaseModel, Generic[PayloadT]):
    success: bool = True
    data: PayloadT
    meta: Meta


class PageEnvelope(BaseModel, Generic[PayloadT]):
    success: bool = True
    data: PayloadT
    meta: PageMeta


class Provenance(BaseModel):
    sources: list[str]
    window: dict[str, str]
    aggregation: str
    generated_at: str


def envelope(data: Any) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "meta": {"timestamp": iso_utc(utc_now()), "request_id": current_request_id()},
    }


def page_envelope(data: Any, *, total: int, limit: int, offset: int) -> dict[str, Any]:
    """Paginated envelope; `page` is 1-based and derived from offset and limit."""
    body = envelope(data)
    body["meta"].update(
        {
            "total": total,
            "page": offset // limit + 1 if limit else 1,
            "page_size": limit,
            "has_more": offset + limit < total,
        }
    )
    return body


def json_response(content: Any, status_code: int = 200) -> Response:
    """A JSON response serialised with orjson (datetimes, Decimals as strings, pydantic models)."""
    if isinstance(content, BaseModel):
        content = content.model_dump(mode="json")
    return Response(
        orjson.dumps(content, default=_json_default),
        status_code=status_code,
        media_type="application/json",
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
