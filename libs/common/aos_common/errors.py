"""problem+json errors (RFC 9457) in the shape API.md fixes, and the handlers that produce them.

Expected business errors are `ProblemError` subclasses carrying their status; anything else that
escapes a route becomes a 500 whose body says nothing about the cause (the log has it).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aos_common.request_context import current_request_id

PROBLEM_CONTENT_TYPE = "application/problem+json"
logger = logging.getLogger("aos.errors")


class ProblemError(Exception):
    status: int = 400
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        type_uri: str = "about:blank",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})
        self.type_uri = type_uri
        self.extra = dict(extra or {})


class BadRequest(ProblemError):
    status = 400


class Unauthorized(ProblemError):
    status = 401


class PaymentRequired(ProblemError):
    status = 402


class Forbidden(ProblemError):
    status = 403


class NotFound(ProblemError):
    status = 404


class Conflict(ProblemError):
    status = 409


class PayloadTooLarge(ProblemError):
    status = 413


class Unprocessable(ProblemError):
    status = 422


class TooManyRequests(ProblemError):
    status = 429


class ServiceUnavailable(ProblemError):
    status = 503


def problem_body(
    status: int,
    detail: str,
    *,
    instance: str,
    title: str | None = None,
    type_uri: str = "about:blank",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": current_request_id(),
    }
    if extra:
        body.update(extra)
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    type_uri: str = "about:blank",
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body = problem_body(
        status, detail, instance=instance, title=title, type_uri=type_uri, extra=extra
    )
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        errors.append({"field": ".".join(location) or "body", "message": str(error.get("msg"))})
    return errors


def _validation_detail(errors: list[dict[str, str]]) -> str:
    if not errors:
        return "The request is not valid."
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"Invalid request: {first['field']}: {first['message']}{more}"


def install_problem_handlers(app: FastAPI) -> None:
    async def handle_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_response(
            exc.status,
            exc.detail,
            instance=request.url.path,
            title=exc.title,
            headers=exc.headers,
            type_uri=exc.type_uri,
            extra=exc.extra,
        )

    async def handle_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.method} {request.url.path}"
        elif exc.status_code == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}"
        return problem_response(
            exc.status_code, detail, instance=request.url.path, headers=exc.headers
        )

    async def handle_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        return problem_response(
            422,
            _validation_detail(errors),
            instance=request.url.path,
            extra={"errors": errors},
        )

    async def handle_database(request: Request, exc: Exception) -> Response:
        return database_error_response(request.method, request.url.path, exc)

    app.add_exception_handler(ProblemError, handle_problem)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(DBAPIError, handle_database)
    app.add_exception_handler(asyncpg.PostgresError, handle_database)
    app.add_middleware(UnhandledErrorMiddleware)


INTERNAL_ERROR = "An internal error occurred; the request id identifies it in the logs."
DATABASE_REFUSED = (
    "The request holds a value the database cannot store "
    "(for example a NUL character or a number out of range)"
)


def log_unhandled(method: str, path: str, exc: BaseException) -> None:
    """Log an error no handler took, never with data from the request in it.

    A database error's text holds the SQL, its parameters and PostgreSQL's DETAIL (which quotes
    values): only its type, SQLSTATE, PostgreSQL's primary message and the stack are logged.
    Anything else is logged in full.
    """
    if isinstance(exc, DBAPIError | asyncpg.PostgresError):
        stack = "".join(traceback.format_tb(exc.__traceback__))
        logger.error(
            "unhandled database error on %s %s: %s (SQLSTATE %s): %s\n%s",
            method,
            path,
            type(exc).__name__,
            _sqlstate(exc),
            _primary_message(exc),
            stack,
        )
        return
    logger.error("unhandled error on %s %s", method, path, exc_info=exc)


def _primary_message(exc: BaseException) -> str:
    """PostgreSQL's one-line message (no DETAIL, no SQL, no parameters), or the driver's own
    complaint about its state; never the text of an argument it refused to encode."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        if isinstance(seen, asyncpg.PostgresError):
            return str(getattr(seen, "message", "") or type(seen).__name__)
        if isinstance(seen, asyncpg.InterfaceError) and not isinstance(
            seen, asyncpg.exceptions.DataError
        ):
            return str(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return "(message withheld)"


def database_error_response(method: str, path: str, exc: BaseException) -> Response:
    """A 400 for a value the database cannot hold (the client's), else the logged 500."""
    sqlstate = _sqlstate(exc)
    if not _is_data_error(exc, sqlstate):
        return unexpected_error_response(method, path, exc)
    logger.warning(
        "refused data on %s %s: %s (SQLSTATE %s)", method, path, type(exc).__name__, sqlstate
    )
    return problem_response(400, DATABASE_REFUSED, instance=path)


def unexpected_error_response(method: str, path: str, exc: BaseException) -> Response:
    log_unhandled(method, path, exc)
    return problem_response(500, INTERNAL_ERROR, instance=path)


class UnhandledErrorMiddleware:
    """Answers the 500 problem for an exception no handler took, inside the request's context.

    Starlette hands such exceptions to its outermost middleware, after the request id and tenant
    have left the context: logged there, the line would say `request_id: null` and the response
    would lack X-Request-ID. Installed innermost, this one sees them first.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            path = scope.get("path", "")
            if started:
                log_unhandled(scope.get("method", ""), path, exc)
                raise
            response = unexpected_error_response(scope.get("method", ""), path, exc)
            await response(scope, receive, send)


# SQLSTATE class 22, "data exception": the value a client sent cannot be stored (NUL in text,
# an untranslatable character, a number out of range). Routes validate first; this is the net.
DATA_EXCEPTION_CLASS = "22"


def _is_data_error(exc: BaseException, sqlstate: str | None) -> bool:
    """A value the database cannot hold: PostgreSQL's class 22, or asyncpg refusing to encode a
    query argument (an integer outside int32 for an `integer` column) before sending it."""
    if sqlstate is not None:
        return sqlstate.startswith(DATA_EXCEPTION_CLASS)
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, asyncpg.exceptions.DataError):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of an asyncpg error, raw or wrapped by SQLAlchemy."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        code = getattr(seen, "sqlstate", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None
