"""forwardAuth (Traefik semantics) plus what the gateway adds on top of it.

Traefik part: ask `address` with the client's headers (or only `authRequestHeaders`) and the
X-Forwarded-* description of the request; a 2xx lets the request through with the
`authResponseHeaders` copied onto it; anything else is returned to the client as it is (the tenants
service's 401/403 problem documents).

AOS part: the principal carried in the signed X-AOS-Context of the auth answer is verified, cached per
credential for at most `auth_cache_seconds` (revocation still reaches the gateway within API.md's
5 s), re-signed fresh for the upstream, and its key's `rate_limit_rpm` is enforced in Redis.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

from aos_common.auth import (
    CONTEXT_HEADER,
    CONTEXT_SIGNATURE_HEADER,
    Principal,
    sign_context,
    verify_context,
)
from aos_common.errors import ProblemError
from aos_common.request_context import tenant_id_var
from aos_gateway.config.models import ForwardAuth
from aos_gateway.middlewares.ratelimit import RateLimiter, bucket_key
from aos_gateway.proxy.h1client import (
    H1Pool,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from aos_gateway.proxy.types import Handler, Headers, ProxyRequest, ProxyResponse, problem
from aos_gateway.proxy.upstream import HOP_BY_HOP

logger = logging.getLogger("aos.gateway.auth")

CREDENTIAL_HEADERS = ("authorization", "x-aos-key", "x-api-key", "cookie")
_NOT_FORWARDED = HOP_BY_HOP | {"content-length", "content-type", "expect", "host"}
_NOT_RELAYED = HOP_BY_HOP | {"date", "server"}


@dataclass(frozen=True, slots=True)
class _Grant:
    expires: float
    headers: tuple[tuple[str, str], ...]
    principal: Principal | None


class AuthCache:
    """Granted forward-auth answers by (address, credential), bounded and short-lived."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = min(ttl, 5.0)
        self.size = size
        self._entries: OrderedDict[str, _Grant] = OrderedDict()

    def get(self, key: str) -> _Grant | None:
        grant = self._entries.get(key)
        if grant is None or grant.expires <= time.monotonic():
            return None
        return grant

    def put(self, key: str, headers: list[tuple[str, str]], principal: Principal | None) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = _Grant(time.monotonic() + self.ttl, tuple(headers), principal)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class ForwardAuthMiddleware:
    def __init__(
        self,
        spec: ForwardAuth,
        *,
        pool: H1Pool,
        cache: AuthCache,
        limiter: RateLimiter,
        internal_secret: str,
        timeout: float,
        upstream_name: str,
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.cache = cache
        self.limiter = limiter
        self.secret = internal_secret
        self.timeout = timeout
        self.upstream_name = upstream_name
        self.copy_names = [name.lower() for name in spec.auth_response_headers]
        self.copy_regex = (
            re.compile(spec.auth_response_headers_regex, re.IGNORECASE)
            if spec.auth_response_headers_regex
            else None
        )
        self.request_names = (
            {name.lower() for name in spec.auth_request_headers}
            if spec.auth_request_headers is not None
            else None
        )

    def _cache_key(self, request: ProxyRequest) -> str | None:
        values = [request.headers.get(name) or "" for name in CREDENTIAL_HEADERS]
        if not any(values):
            return None
        material = "\n".join([self.spec.address, *values]).encode()
        return hashlib.sha256(material).hexdigest()

    def _auth_headers(self, request: ProxyRequest) -> list[tuple[str, str]]:
        if self.request_names is not None:
            headers = [(k, v) for k, v in request.headers.items if k in self.request_names]
        else:
            headers = [(k, v) for k, v in request.headers.items if k not in _NOT_FORWARDED]
        uri = request.path + (
            "?" + request.query_string.decode("latin-1") if request.query_string else ""
        )
        headers += [
            ("x-forwarded-method", request.method),
            ("x-forwarded-proto", request.scheme),
            ("x-forwarded-host", request.host),
            ("x-forwarded-uri", uri),
            ("x-forwarded-for", request.client_ip),
        ]
        return headers

    def _granted_headers(self, raw: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [
            (name, value)
            for name, value in raw
            if name in self.copy_names or (self.copy_regex and self.copy_regex.search(name))
        ]

    def _principal(self, granted: list[tuple[str, str]]) -> Principal | None:
        values = dict(granted)
        context = values.get(CONTEXT_HEADER.lower())
        if context is None:
            return None
        try:
            return verify_context(
                context, values.get(CONTEXT_SIGNATURE_HEADER.lower(), ""), self.secret
            )
        except ProblemError as error:
            logger.warning("forward-auth answered with an unverifiable context: %s", error.detail)
            return None

    async def _ask(self, request: ProxyRequest) -> ProxyResponse | _Grant:
        parts = urlsplit(self.spec.address)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = self._auth_headers(request)
        headers.append(("host", parts.netloc))
        try:
            response = await self.pool.request(
                "GET", self.spec.address, target, headers, None, read_seconds=self.timeout
            )
            body = await response.read()
        except (UpstreamConnectError, UpstreamTimeout, UpstreamProtocolError) as error:
            logger.warning("forward-auth %s unreachable: %s", self.spec.address, error)
            return problem(
                request, 503, f"Upstream {self.upstream_name} unavailable", retry_after=1
            )
        raw = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers]
        if not 200 <= response.status < 300:
            headers_out = Headers([(k, v) for k, v in raw if k not in _NOT_RELAYED])
            return ProxyResponse(response.status, headers_out, body)
        granted = self._granted_headers(raw)
        return _Grant(0.0, tuple(granted), self._principal(granted))

    async def _key_limit(self, request: ProxyRequest, principal: Principal) -> ProxyResponse | None:
        rpm = principal.rate_limit_rpm
        if not rpm:
            return None
        subject = principal.key_id or principal.principal_id
        decision = await self.limiter.take(
            bucket_key(f"rpm:{principal.tenant_id}", subject), rate_per_second=rpm / 60, burst=rpm
        )
        if decision.allowed:
            return None
        return problem(
            request,
            429,
            f"API key rate limit exceeded ({rpm} requests per minute)",
            retry_after=decision.retry_after,
        )

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        key = self._cache_key(request)
        grant = self.cache.get(key) if key is not None else None
        if grant is None:
            answer = await self._ask(request)
            if isinstance(answer, ProxyResponse):
                return answer
            grant = answer
            if key is not None:
                self.cache.put(key, list(grant.headers), grant.principal)
        for name, _ in grant.headers:
            request.headers.remove(name)
        for name, value in grant.headers:
            request.headers.add(name, value)
        principal = grant.principal
        if principal is not None:
            request.principal = principal
            tenant_id_var.set(principal.tenant_id)
            for name, value in sign_context(principal, self.secret).items():
                request.headers.set(name, value)
            limited = await self._key_limit(request, principal)
            if limited is not None:
                return limited
        return await call_next(request)
