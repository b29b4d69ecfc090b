"""Console session tokens (JWT): minting (HS256) and verification (HS256, or RS256/ES256 by JWKS).

Refused, always: `alg: none` and any algorithm not configured, a bad signature, a missing or past
`exp`, a not-yet-valid `nbf`, an audience other than `aos-api`, a missing `sub` or `tenant_id`.
Asymmetric keys are only ever taken from the JWKS and HS256 only from the shared secret, so a token
cannot make the verifier use a public key as an HMAC secret (algorithm confusion).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import jwt

AUDIENCE = "aos-api"
HS_ALGORITHMS = ("HS256",)
JWKS_ALGORITHMS = ("RS256", "ES256")
DEFAULT_TOKEN_TTL_SECONDS = 12 * 3600
REQUIRED_CLAIMS = ("exp", "aud", "sub", "tenant_id")


class InvalidConsoleToken(Exception):
    """The token is not acceptable; the message says why (for logs, never for clients)."""


@dataclass(frozen=True)
class ConsoleClaims:
    subject: str
    tenant_id: str
    roles: tuple[str, ...]
    expires_at: int
    # Set by the gateway's console sessions: the signed-in key's own permissions, so the console
    # can do exactly what that key may do (a token may already carry "admin", so no widening).
    permissions: tuple[str, ...] = ()
    # The API key a console session was opened with: the token dies with that key.
    key_id: str | None = None


def mint_console_token(
    secret: str,
    *,
    tenant_id: str,
    subject: str,
    roles: list[str] | tuple[str, ...] = ("admin",),
    ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
    now: float | None = None,
) -> str:
    """An HS256 console token for `subject` in `tenant_id`, valid `ttl_seconds`."""
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": subject,
        "tenant_id": tenant_id,
        "roles": list(roles),
        "aud": AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class ConsoleTokenVerifier:
    """Verifies console tokens with the shared secret and/or a JWKS endpoint."""

    def __init__(
        self,
        *,
        hs_secret: str | None,
        jwks_url: str | None = None,
        leeway_seconds: float = 5.0,
        jwks_client: jwt.PyJWKClient | None = None,
    ) -> None:
        self._hs_secret = hs_secret
        self._leeway = leeway_seconds
        self._jwks = jwks_client or (
            jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if jwks_url
            else None
        )

    async def verify(self, token: str) -> ConsoleClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidConsoleToken(f"malformed token: {error}") from error
        algorithm = header.get("alg")
        if algorithm in HS_ALGORITHMS and self._hs_secret:
            key: object = self._hs_secret
            algorithms = list(HS_ALGORITHMS)
        elif algorithm in JWKS_ALGORITHMS and self._jwks is not None:
            key = await self._signing_key(token)
            algorithms = list(JWKS_ALGORITHMS)
        else:
            raise InvalidConsoleToken(f"algorithm {algorithm!r} is not accepted")
        return self._decode(token, key, algorithms)

    async def _signing_key(self, token: str) -> object:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches with urllib (blocking); its key cache makes this rare.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWTError as error:
            raise InvalidConsoleToken(f"no signing key: {error}") from error
        return signing_key.key

    def _decode(self, token: str, key: object, algorithms: list[str]) -> ConsoleClaims:
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=AUDIENCE,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as error:
            raise InvalidConsoleToken(str(error)) from error
        return _claims(claims)


def _claims(claims: dict[str, object]) -> ConsoleClaims:
    subject, tenant_id, roles = claims.get("sub"), claims.get("tenant_id"), claims.get("roles", [])
    if not isinstance(subject, str) or not 0 < len(subject) <= 256:
        raise InvalidConsoleToken("sub must be a non-empty string of at most 256 characters")
    if not isinstance(tenant_id, str) or not 0 < len(tenant_id) <= 64 or "\x00" in tenant_id:
        raise InvalidConsoleToken("tenant_id must be a non-empty string of at most 64 characters")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidConsoleToken("roles must be a list of strings")
    permissions = claims.get("permissions") or []
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise InvalidConsoleToken("permissions must be a list of strings")
    key_id = claims.get("key_id")
    if key_id is not None and (not isinstance(key_id, str) or not 0 < len(key_id) <= 64):
        raise InvalidConsoleToken("key_id must be a non-empty string of at most 64 characters")
    expires = claims["exp"]
    assert isinstance(expires, int | float)
    return ConsoleClaims(subject, tenant_id, tuple(roles), int(expires), tuple(permissions), key_id)
