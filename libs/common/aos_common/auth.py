"""Who is calling: the principal model, permissions, the gateway's signed context, and the
authenticator every service uses (credential -> principal, cached at most 5 s).

A service never trusts headers it cannot check: a context is accepted only with a valid HMAC and an
unexpired timestamp; credentials are resolved by the tenants service (or locally, inside it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from aos_common.errors import Forbidden, Unauthorized
from aos_common.request_context import tenant_id_var
from aos_common.state import service_state

if TYPE_CHECKING:
    from aos_common.revocation import RevocationWatch

CONTEXT_HEADER = "X-AOS-Context"
CONTEXT_SIGNATURE_HEADER = "X-AOS-Context-Signature"
INTERNAL_SECRET_HEADER = "X-AOS-Internal-Secret"
CONTEXT_LIFETIME_SECONDS = 60
AUTHENTICATION_REQUIRED = "Authentication required"
INVALID_API_KEY = "Invalid API key"
OTHER_TENANT = "Cannot access other tenant's data"

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "admin": ("*",),
    "operator": ("*",),
    "developer": (
        "run:*",
        "read:*",
        "traces:read",
        "traces:write",
        "cost:write",
        "keys:read",
    ),
    "viewer": ("read:*", "traces:read"),
    "service": ("*",),
}
DEFAULT_KEY_PERMISSIONS = ("run:*", "read:*")

PrincipalType = Literal["api_key", "user", "operator", "service"]


def permission_matches(granted: str, required: str) -> bool:
    """`*` grants all, an exact string grants itself, `prefix:*` grants everything under `prefix:`."""
    if granted == "*" or granted == required:
        return True
    if granted.endswith(":*"):
        return required.startswith(granted[:-1])
    return False


class Principal(BaseModel):
    tenant_id: str | None
    principal_id: str
    principal_type: PrincipalType
    roles: list[str] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)
    key_id: str | None = None
    rate_limit_rpm: int | None = None

    @property
    def is_operator(self) -> bool:
        return "operator" in self.roles or self.principal_type in ("operator", "service")

    def granted_permissions(self) -> list[str]:
        granted = list(self.permissions)
        for role in self.roles:
            granted.extend(ROLE_PERMISSIONS.get(role, ()))
        return granted

    def has_permission(self, required: str) -> bool:
        return any(permission_matches(granted, required) for granted in self.granted_permissions())

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


def operator_principal() -> Principal:
    return Principal(
        tenant_id=None,
        principal_id="operator",
        principal_type="operator",
        roles=["operator"],
        permissions=["*"],
    )


def service_principal(service_name: str, tenant_id: str | None = None) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        principal_id=f"service:{service_name}",
        principal_type="service",
        roles=["service"],
        permissions=["*"],
    )


# --- the signed context the gateway (and services calling each other) attach -------------------


def _signature(secret: str, context: str) -> str:
    return hmac.new(secret.encode(), context.encode(), hashlib.sha256).hexdigest()


def sign_context(principal: Principal, secret: str, *, now: float | None = None) -> dict[str, str]:
    """Headers carrying `principal`, valid for 60 s: base64url JSON plus its HMAC-SHA256."""
    issued = time.time() if now is None else now
    claims = principal.model_dump()
    claims["exp"] = int(issued) + CONTEXT_LIFETIME_SECONDS
    context = base64.urlsafe_b64encode(orjson.dumps(claims)).decode().rstrip("=")
    return {CONTEXT_HEADER: context, CONTEXT_SIGNATURE_HEADER: _signature(secret, context)}


def verify_context(
    context: str, signature: str, secret: str, *, now: float | None = None
) -> Principal:
    return verify_context_until(context, signature, secret, now=now)[0]


def verify_context_until(
    context: str, signature: str, secret: str, *, now: float | None = None
) -> tuple[Principal, int]:
    """The principal of a signed context and the time (epoch seconds) it expires."""
    if not hmac.compare_digest(_signature(secret, context), signature):
        raise Unauthorized("Invalid gateway context signature")
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(context + "=" * (-len(context) % 4)))
        expires = int(claims.pop("exp"))
        principal = Principal.model_validate(claims)
    except (ValueError, KeyError, TypeError) as error:
        raise Unauthorized("Invalid gateway context") from error
    current = time.time() if now is None else now
    if expires < current or expires > current + CONTEXT_LIFETIME_SECONDS + 5:
        raise Unauthorized("Gateway context expired")
    return principal, expires


# --- credentials ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    kind: Literal["api_key", "jwt"]
    value: str

    def headers(self) -> dict[str, str]:
        """How to forward this credential to the resolver."""
        if self.kind == "api_key":
            return {"X-AOS-Key": self.value}
        return {"Authorization": f"Bearer {self.value}"}

    @property
    def cache_key(self) -> str:
        return hashlib.sha256(f"{self.kind}:{self.value}".encode()).hexdigest()


def extract_credential(headers: Mapping[str, str]) -> Credential | None:
    """Credentials in API.md's order: X-AOS-Key, X-API-Key, then Authorization: Bearer."""
    for name in ("x-aos-key", "x-api-key"):
        value = headers.get(name)
        if value:
            return Credential("api_key", value.strip())
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        return Credential("api_key" if token.startswith("aos_") else "jwt", token)
    return None


class CredentialResolver(Protocol):
    async def resolve(self, credential: Credential) -> Principal | None:
        """The principal for a credential, or None when it is unknown, revoked or expired."""


class Authenticator:
    """Turns request headers into a Principal; results are cached for at most `cache_seconds`."""

    def __init__(
        self,
        *,
        internal_secret: str,
        operator_key: str | None,
        resolver: CredentialResolver,
        cache_seconds: float = 5.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        revocations: RevocationWatch | None = None,
    ) -> None:
        self._internal_secret = internal_secret
        self._revocations = revocations
        self._operator_key = operator_key
        self._resolver = resolver
        self._cache_seconds = min(cache_seconds, 5.0)
        self._cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._contexts: dict[tuple[str, str], tuple[Principal, int]] = {}

    def context_principal(self, headers: Mapping[str, str]) -> Principal | None:
        """The principal of a signed context, verified once per (context, signature) pair.

        A gateway signs a context once per cached forward-auth grant, so the same pair arrives
        many times; only pairs that verified are remembered, and only until they expire. A key's
        context is checked against the recently revoked keys on every use (aos_common.revocation).
        """
        context = headers.get(CONTEXT_HEADER.lower())
        if context is None:
            return None
        signature = headers.get(CONTEXT_SIGNATURE_HEADER.lower(), "")
        key = (context, signature)
        remembered = self._contexts.get(key)
        if remembered is None or remembered[1] < time.time():
            remembered = verify_context_until(context, signature, self._internal_secret)
            if len(self._contexts) >= self._cache_size:
                self._contexts.clear()
            self._contexts[key] = remembered
        principal, expires = remembered
        if self._revocations is not None:
            self._revocations.check(principal, expires)
        return principal

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        principal = self.context_principal(headers)
        if principal is not None:
            return principal
        credential = extract_credential(headers)
        if credential is None:
            raise Unauthorized(AUTHENTICATION_REQUIRED)
        if (
            self._operator_key
            and credential.kind == "api_key"
            and hmac.compare_digest(credential.value.encode(), self._operator_key.encode())
        ):
            return operator_principal()
        resolved = await self.resolve(credential)
        if resolved is None:
            raise Unauthorized(
                INVALID_API_KEY if credential.kind == "api_key" else "Invalid or expired token"
            )
        return resolved

    async def resolve(self, credential: Credential) -> Principal | None:
        key = credential.cache_key
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self._resolver.resolve(credential)
        if self._cache_seconds > 0:
            self._cache[key] = (now + self._cache_seconds, principal)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return principal

    def forget(self, credential: Credential) -> None:
        self._cache.pop(credential.cache_key, None)


# --- FastAPI dependencies ------------------------------------------------------------------------


async def get_principal(request: Request) -> Principal:
    authenticator = service_state(request.app).authenticator
    principal = await authenticator.authenticate(request.headers)
    tenant_id_var.set(principal.tenant_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_permission(permission: str) -> Any:
    """Dependency: the caller's principal, or 403 naming the missing permission."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.has_permission(permission):
            raise Forbidden(f"Requires permission {permission}")
        return principal

    return Depends(dependency)


def require_role(*roles: str) -> Any:
    """Dependency: the caller's principal if it holds one of `roles` (operators always pass)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not (principal.has_role(*roles) or principal.is_operator):
            raise Forbidden(f"Requires role {' or '.join(roles)}")
        return principal

    return Depends(dependency)


async def get_internal_caller(request: Request) -> Principal:
    """Internal routes: a signed *service* context, or the internal secret itself (a sidecar).

    A signed context of a user or key (what the gateway attaches to public requests) is refused:
    internal routes trust their caller's tenant_id parameter, which only a service may set.
    """
    authenticator = service_state(request.app).authenticator
    principal = authenticator.context_principal(request.headers)
    if principal is not None:
        if principal.principal_type != "service":
            raise Forbidden("Internal route: only services may call it")
        return principal
    secret = request.headers.get(INTERNAL_SECRET_HEADER.lower())
    if secret and hmac.compare_digest(secret.encode(), authenticator._internal_secret.encode()):
        return service_principal("internal")
    raise Unauthorized("Internal route: a signed service context is required")


InternalCallerDep = Annotated[Principal, Depends(get_internal_caller)]
