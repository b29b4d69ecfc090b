"""Typed exceptions: every failed call surfaces as an AOSError carrying what the server said.

The platform answers errors as application/problem+json (`title`, `status`, `detail`,
`request_id`); callers branch on the exception class and show `detail`, which is the exact text
the API contract promises.
"""

from __future__ import annotations

from typing import Any


class AOSError(Exception):
    """Any failure talking to AOS. `status` is None when no HTTP response arrived."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        title: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.request_id = request_id
        self.title = title
        self.body = body
        self.headers = headers or {}

    def __str__(self) -> str:
        parts = [f"{self.status}" if self.status is not None else "no response", self.detail]
        if self.request_id:
            parts.append(f"(request_id={self.request_id})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, detail={self.detail!r}, "
            f"request_id={self.request_id!r})"
        )


class AOSConnectionError(AOSError):
    """The server could not be reached (or the connection broke) even after retries."""


class BadRequestError(AOSError):
    """400: the request was understood but refused."""


class AuthenticationError(AOSError):
    """401: missing, unknown, revoked or expired credential."""


class PermissionDeniedError(AOSError):
    """403: the credential lacks a permission (detail names it) or the tenant scope is wrong."""


class NotFoundError(AOSError):
    """404."""


class ConflictError(AOSError):
    """409: duplicate, immutable object, or an idempotency key reused with another body."""


class ValidationError(AOSError):
    """422: the body failed validation; `errors` lists field paths and messages."""

    @property
    def errors(self) -> list[Any]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), list):
            return list(self.body["errors"])
        return []


class RateLimitError(AOSError):
    """429 that was still refused after the retry budget (or asked to wait too long)."""

    @property
    def retry_after(self) -> str | None:
        return self.headers.get("retry-after")


class QuotaExceededError(RateLimitError):
    """429 on run start: a tenant quota refused the run; `reason` is the quota's reason."""

    @property
    def reason(self) -> str:
        return self.detail


class BudgetExceededError(AOSError):
    """402: a hard budget refused the work; `reason` is the budget's reason."""

    @property
    def reason(self) -> str:
        return self.detail


class ServerError(AOSError):
    """5xx that persisted through the retry budget."""


_BY_STATUS: dict[int, type[AOSError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BudgetExceededError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class_for(status: int) -> type[AOSError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return AOSError
