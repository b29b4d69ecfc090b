"""Bad text is a client error: PostgreSQL refuses NUL characters (in text and in JSONB strings).

A NUL can arrive in a JSON body (`\\u0000`), a path or a query string (`%00`); validating every
field for it would be easy to miss somewhere, so the database's refusal is mapped here instead: the
transaction has already rolled back, and the client gets a 400 rather than a 500.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError
from starlette.responses import Response

from aos_common.errors import database_error_response, problem_response

NUL_REFUSED = "Text must not contain NUL (\\u0000) characters"
_TEXT_ERRORS = ("CharacterNotInRepertoireError", "UntranslatableCharacterError")


def _is_bad_text(error: DBAPIError) -> bool:
    cause = getattr(error.orig, "__cause__", None) or error.orig
    names = {type(cause).__name__, type(error.orig).__name__}
    return any(name in names for name in _TEXT_ERRORS) or any(
        name in str(error.orig) for name in _TEXT_ERRORS
    )


def install_text_error_handler(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        if _is_bad_text(exc):
            return problem_response(400, NUL_REFUSED, instance=request.url.path)
        return database_error_response(request.method, request.url.path, exc)

    app.add_exception_handler(DBAPIError, handle)
