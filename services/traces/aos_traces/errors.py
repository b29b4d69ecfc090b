"""Database refusals caused by what a client sent become 400s, never 500s.

PostgreSQL cannot store NUL characters in text or `\\u0000` in jsonb. The ingest path replaces
or rejects them before any SQL; this handler is the net for every other field (mismatch
details, evidence details, notes), answering 400 instead of an internal error.
"""

from __future__ import annotations

import asyncpg
from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError
from starlette.responses import Response

from aos_common.errors import database_error_response, problem_response

CLIENT_TEXT_STATES = frozenset({"22021", "22P05"})
UNSTORABLE_TEXT = "Request contains text the database cannot store (NUL characters)"


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE anywhere along the wrapping chain (SQLAlchemy -> adapter -> asyncpg)."""
    seen: list[BaseException] = [error]
    while seen:
        candidate = seen.pop()
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
        for inner in (getattr(candidate, "orig", None), candidate.__cause__):
            if isinstance(inner, BaseException) and len(seen) < 10:
                seen.append(inner)
    return None


def install_database_text_handler(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        if _sqlstate(exc) in CLIENT_TEXT_STATES:
            return problem_response(400, UNSTORABLE_TEXT, instance=request.url.path)
        return database_error_response(request.method, request.url.path, exc)

    app.add_exception_handler(DBAPIError, handle)
    app.add_exception_handler(asyncpg.PostgresError, handle)
