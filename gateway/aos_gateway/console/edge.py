"""The console's cookie at the edge: an API request carrying the session cookie (and no other
credential) is sent on with the cookie's console token as its bearer credential.

Only the gateway reads the cookie: it checks the token's signature and that its session is still
open (sign-out closes it), then forward-auth resolves the token like any console token. A request
that changes something must also carry `X-Requested-With: aos-console` (the console's fetch sets
it), on top of the cookie's SameSite=Strict, so no other site can make a signed-in browser act.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from aos_common.errors import ProblemError, problem_response
from aos_gateway.console.session import COOKIE, SIGNED_OUT, read_token, session_alive
from aos_gateway.state import GatewayState

CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-aos-key", b"x-api-key"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIXES = ("/api/", "/v1/")


def _cookie_token(raw: bytes) -> str | None:
    try:
        jar = SimpleCookie(raw.decode("latin-1"))
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


class ConsoleCookieEdge:
    def __init__(self, app: ASGIApp, state: GatewayState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        cookie = next((value for name, value in headers if name == b"cookie"), None)
        if cookie is None or any(name in CREDENTIAL_HEADERS for name, _ in headers):
            await self.app(scope, receive, send)
            return
        token = _cookie_token(cookie)
        if token is None:
            await self.app(scope, receive, send)
            return
        claims = read_token(self.state.settings.jwt_secret, token)
        try:
            alive = claims is not None and await session_alive(
                self.state.require_live().redis, claims["sid"]
            )
        except ProblemError as error:
            await self._refuse(scope, receive, send, error.status, error.detail, error.headers)
            return
        if not alive:
            await self._refuse(scope, receive, send, 401, SIGNED_OUT, {})
            return
        if scope["method"] not in SAFE_METHODS and (b"x-requested-with", b"aos-console") not in [
            (name, value.lower()) for name, value in headers
        ]:
            await self._refuse(
                scope, receive, send, 403, "Console requests must come from the console", {}
            )
            return
        scope = dict(scope)
        scope["headers"] = [*headers, (b"authorization", f"Bearer {token}".encode())]
        await self.app(scope, receive, send)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        headers: dict[str, str],
    ) -> None:
        response = problem_response(status, detail, instance=scope["path"], headers=headers)
        await response(scope, receive, send)
