"""Console sign-in: a credential is exchanged once for an HttpOnly session cookie.

The cookie holds a short-lived console token (an HS256 JWT the tenants service verifies like any
console token) carrying the signed-in key's tenant, roles and permissions, so the console can do
exactly what that key may do. Each token names a session id kept in Redis: sign-out deletes it,
and the gateway refuses a cookie whose session is gone (edge.py), so a copied cookie dies with
the session. `GET /console/session` renews a token that is past half its life while the session
lives (at most `SESSION_SECONDS`).

A one-time sign-in link (`POST /console/links`, used by `aos up`) stores a fresh session's token
under a random code for ten minutes; `GET /console/signin?code=` takes it once and sets the cookie.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from starlette.responses import RedirectResponse, Response

from aos_common.auth import Principal, extract_credential
from aos_common.envelope import envelope, json_response
from aos_common.errors import BadRequest, ServiceUnavailable, Unauthorized
from aos_common.http_client import PeerUnavailable
from aos_gateway.state import gateway_state

router = APIRouter(include_in_schema=False)
COOKIE = "aos_console_session"
AUDIENCE = "aos-api"
TOKEN_SECONDS = 15 * 60
SESSION_SECONDS = 8 * 3600
LINK_SECONDS = 10 * 60
SESSION_KEY = "aos:console:session:"
LINK_KEY = "aos:console:link:"
SIGNED_OUT = "Your console session has ended; sign in again"


def _secret(request: Request) -> str:
    """The tenants service's JWT secret, which signs console tokens."""
    return gateway_state(request).settings.jwt_secret


def _redis(request: Request) -> Redis:
    """Where sessions and one-time links live."""
    return gateway_state(request).require_live().redis


class SignIn(BaseModel):
    credential: str = Field(min_length=1, max_length=4096, description="API key or console token")


@dataclass(frozen=True)
class Session:
    token: str
    claims: dict[str, Any]


def mint_token(secret: str, principal: Principal, sid: str, *, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": principal.principal_id,
        "tenant_id": principal.tenant_id,
        "roles": list(principal.roles),
        "permissions": list(principal.permissions),
        "key_id": principal.key_id,
        "sid": sid,
        "aud": AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + TOKEN_SECONDS,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(secret: str, token: str) -> dict[str, Any] | None:
    """The claims of a console session token this gateway minted, or None."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            leeway=5,
            options={"require": ["exp", "sid", "tenant_id", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims.get("sid"), str) else None


async def session_alive(redis: Redis, sid: str) -> bool:
    try:
        return bool(await redis.exists(SESSION_KEY + sid))
    except Exception as error:  # Redis unreachable: a session cannot be checked, so none is valid
        raise ServiceUnavailable(
            "Console sessions are unavailable; retry shortly", headers={"Retry-After": "2"}
        ) from error


async def _principal_for(request: Request, credential: str) -> Principal:
    """Ask the tenants service who `credential` is (uncached: a sign-in is rare)."""
    parsed = extract_credential({"authorization": f"Bearer {credential.strip()}"})
    assert parsed is not None
    peers = gateway_state(request).require_live().peers
    try:
        answer = await peers.request(
            "tenants", "GET", "/internal/v1/auth/verify", headers=parsed.headers()
        )
    except PeerUnavailable as error:
        raise ServiceUnavailable(
            "Sign-in is unavailable: the tenants service does not answer",
            headers={"Retry-After": "2"},
        ) from error
    if answer.status_code in (401, 403):
        raise Unauthorized(
            "That API key or console token is not valid (unknown, revoked or expired)"
        )
    if answer.status_code != 200:
        raise ServiceUnavailable(
            f"Sign-in is unavailable (tenants answered {answer.status_code})",
            headers={"Retry-After": "2"},
        )
    principal = Principal.model_validate(answer.json())
    if principal.tenant_id is None:
        raise BadRequest("The console signs in to a tenant; an operator key has no tenant")
    return principal


async def _open_session(request: Request, principal: Principal) -> str:
    sid = secrets.token_urlsafe(24)
    redis = _redis(request)
    try:
        await redis.set(SESSION_KEY + sid, principal.tenant_id or "", ex=SESSION_SECONDS)
    except Exception as error:
        raise ServiceUnavailable(
            "Console sessions are unavailable; retry shortly", headers={"Retry-After": "2"}
        ) from error
    return mint_token(_secret(request), principal, sid)


def _is_tls(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


def _set_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=TOKEN_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_is_tls(request),
    )


def _who(claims: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant_id": claims["tenant_id"],
        "subject": claims["sub"],
        "key_id": claims.get("key_id"),
        "roles": claims.get("roles", []),
        "permissions": claims.get("permissions", []),
        "expires_at": claims["exp"],
    }


async def current_session(request: Request) -> Session:
    token = request.cookies.get(COOKIE)
    claims = read_token(_secret(request), token) if token else None
    if token is None or claims is None or not await session_alive(_redis(request), claims["sid"]):
        raise Unauthorized(SIGNED_OUT)
    return Session(token, claims)


@router.post("/console/session")
async def sign_in(body: SignIn, request: Request) -> Response:
    """Exchange an API key or console token for the session cookie (the body is never stored)."""
    principal = await _principal_for(request, body.credential)
    token = await _open_session(request, principal)
    claims = read_token(_secret(request), token)
    assert claims is not None
    response = json_response(envelope(_who(claims)), 201)
    _set_cookie(response, request, token)
    return response


@router.get("/console/session")
async def who_am_i(request: Request) -> Response:
    """The signed-in principal; a token past half its life is renewed while the session lives."""
    session = await current_session(request)
    claims = session.claims
    response_claims = claims
    renewed = None
    if claims["exp"] - time.time() < TOKEN_SECONDS / 2:
        principal = Principal(
            tenant_id=claims["tenant_id"],
            principal_id=claims["sub"],
            principal_type="user",
            roles=claims.get("roles", []),
            permissions=claims.get("permissions", []),
            key_id=claims.get("key_id"),
        )
        renewed = mint_token(_secret(request), principal, claims["sid"])
        response_claims = read_token(_secret(request), renewed) or claims
    response = json_response(envelope(_who(response_claims)))
    if renewed:
        _set_cookie(response, request, renewed)
    return response


@router.delete("/console/session")
async def sign_out(request: Request) -> Response:
    """Revoke the session (its cookie stops working at once) and clear the cookie."""
    token = request.cookies.get(COOKIE)
    claims = read_token(_secret(request), token) if token else None
    if claims is not None:
        try:
            await _redis(request).delete(SESSION_KEY + claims["sid"])
        except Exception as error:
            raise ServiceUnavailable(
                "Sign-out could not reach the session store; retry shortly",
                headers={"Retry-After": "2"},
            ) from error
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/console/links")
async def create_link(request: Request) -> Response:
    """A one-time sign-in link for the credential in the request headers (used by `aos up`)."""
    credential = extract_credential(request.headers)
    if credential is None:
        raise Unauthorized("Send the API key (X-AOS-Key) the link should sign in as")
    principal = await _principal_for(request, credential.value)
    token = await _open_session(request, principal)
    code = secrets.token_urlsafe(24)
    await _redis(request).set(LINK_KEY + code, token, ex=LINK_SECONDS)
    return json_response(envelope({"path": f"/console/signin?code={code}"}), 201)


@router.get("/console/signin")
async def follow_link(request: Request, code: str = "") -> Response:
    """Take a one-time link's session (once) and go to the console; a used link signs in nobody."""
    token = None
    if 0 < len(code) <= 64:
        token = await _redis(request).getdel(LINK_KEY + code)
    if token is None:
        return RedirectResponse("/#/signin?link=expired", status_code=303)
    response = RedirectResponse("/#/", status_code=303)
    _set_cookie(response, request, token.decode() if isinstance(token, bytes) else token)
    return response
