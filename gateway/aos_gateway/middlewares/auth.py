"""forwardAuth (Traefik semantics) plus what the gateway adds on top of it.

Traefik part: ask `address` with the client's headers (or only `authRequestHeaders`) and the
X-Forwarded-* description of the request; a 2xx lets the request through with the
`authResponseHeaders` copied onto it; anything else is returned to the client as it is (the tenants
service's 401/403 problem documents).

AOS part: the principal carried in the signed X-AOS-Context of the auth answer is verified, signed
anew for the upstream (with the gateway's own 60 s lifetime), and its key's `rate_limit_rpm` is
enforced in Redis. Granted answers that carry a verified principal are cached per credential (a hash
of the credential headers and the address) for `auth_cache_seconds` (≤ 5 s, API.md's revocation
bound). A request served from the cache makes no forward-auth call, so the gateway meters it
itself (aos_gateway.middlewares.usage): one HINCRBY carried by the request's next Redis round trip
(the key's or the tenant's rate limit), so `api_calls` stays exact. Refusals (401/403) and errors
are never cached.

Forward-auth calls have a concurrency share per credential (aos_gateway.middlewares.auth_share):
the tenant is not known before auth, so the tenant's share cannot count them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

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
from aos_gateway.middlewares.auth_share import AUTH_SHARE, AuthShare
from aos_gateway.middlewares.ratelimit import Decision, RateLimiter, bucket_key
from aos_gateway.middlewares.usage import UsageMeter, usage_field
from aos_gateway.proxy.h1client import (
    H1Pool,
    UpstreamBusy,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from aos_gateway.proxy.types import (
    Handler,
    Headers,
    PendingCount,
    ProxyRequest,
    ProxyResponse,
    problem,
)
from aos_gateway.proxy.upstream import HOP_BY_HOP

logger = logging.getLogger("aos.gateway.auth")

CREDENTIAL_HEADERS = ("authorization", "x-aos-key", "x-api-key", "cookie")
_NOT_FORWARDED = HOP_BY_HOP | {"content-length", "content-type", "expect", "host"}
_NOT_RELAYED = HOP_BY_HOP | {"date", "server"}
_REFUSAL_NOT_RELAYED = _NOT_RELAYED | {"content-length"}
_SIGNED = frozenset({CONTEXT_HEADER.lower(), CONTEXT_SIGNATURE_HEADER.lower()})
_ALLOWED = Decision(True, 0.0)


@dataclass(frozen=True, slots=True)
class _Grant:
    expires: float
    headers: tuple[tuple[str, str], ...]
    principal: Principal | None
    # The context signed for the upstream: valid 60 s, so one signature serves a grant's whole
    # (≤ 5 s) life in the cache.
    signed: tuple[tuple[str, str], ...] = ()


def _public_problem(request: ProxyRequest, body: bytes) -> bytes:
    """The refusal of forward-auth with the client's own path as its `instance`: the document
    forward-auth wrote names its internal route, which the edge never shows."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(document, dict) or "instance" not in document:
        return body
    document["instance"] = request.path
    return orjson.dumps(document)


class AuthCache:
    """Granted forward-auth answers by (address, credential headers), bounded and short-lived."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = min(ttl, 5.0)
        self.size = size
        self._entries: OrderedDict[str, _Grant] = OrderedDict()

    def get(self, key: str) -> _Grant | None:
        grant = self._entries.get(key)
        if grant is None or grant.expires <= time.monotonic():
            return None
        return grant

    def put(self, key: str, grant: _Grant) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = _Grant(
            time.monotonic() + self.ttl, grant.headers, grant.principal, grant.signed
        )
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
        meter: UsageMeter | None = None,
        share: int = AUTH_SHARE,
        share_wait: float | None = None,
    ) -> None:
        self.spec = spec
        self.share = AuthShare(share)
        self.share_wait = timeout if share_wait is None else share_wait
        self.pool = pool
        self.cache = cache
        self.limiter = limiter
        self.secret = internal_secret
        self.timeout = timeout
        self.upstream_name = upstream_name
        # Without a meter a cache hit could not be counted: then every request asks.
        self.counter = meter.counter(spec.address) if meter is not None and cache.ttl > 0 else None
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
        uri = request.target_path + (
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
        except (
            UpstreamConnectError,
            UpstreamTimeout,
            UpstreamProtocolError,
            UpstreamBusy,
        ) as error:
            logger.warning("forward-auth %s unreachable: %s", self.spec.address, error)
            return problem(
                request, 503, f"Upstream {self.upstream_name} unavailable", retry_after=1
            )
        raw = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers]
        if not 200 <= response.status < 300:
            # content-length is set again for the rewritten body when it is sent
            headers_out = Headers([(k, v) for k, v in raw if k not in _REFUSAL_NOT_RELAYED])
            return ProxyResponse(response.status, headers_out, _public_problem(request, body))
        granted = self._granted_headers(raw)
        principal = self._principal(granted)
        signed = (
            tuple((k.lower(), v) for k, v in sign_context(principal, self.secret).items())
            if principal is not None
            else ()
        )
        return _Grant(0.0, tuple(granted), principal, signed)

    async def _ask_within_share(
        self, request: ProxyRequest, key: str | None
    ) -> ProxyResponse | _Grant:
        """Ask forward-auth within the credential's share of calls in flight."""
        share_key = key or self._cache_key(request) or f"ip:{request.client_ip}"
        async with self.share.slot(share_key, wait=self.share_wait) as entered:
            if entered:
                return await self._ask(request)
        return problem(
            request,
            429,
            "Too many concurrent requests with this credential awaiting authentication "
            f"(at most {self.share.amount} at a time); retry when one has finished",
            retry_after=1,
        )

    def _key_bucket(self, principal: Principal) -> tuple[str | None, float, int]:
        rpm = principal.rate_limit_rpm
        if not rpm:
            return None, 0.0, 0
        subject = principal.key_id or principal.principal_id
        return bucket_key(f"rpm:{principal.tenant_id}", subject), rpm / 60, rpm

    async def _key_limit(self, principal: Principal) -> Decision:
        bucket, rate, burst = self._key_bucket(principal)
        if bucket is None:
            return _ALLOWED
        return await self.limiter.take(bucket, rate_per_second=rate, burst=burst)

    async def _count_hit(self, counter: str, principal: Principal) -> Decision | None:
        """Meter a request served from the cache and take its key's token: one Redis round trip.
        None when it could not be counted (the caller then asks forward-auth, which counts)."""
        field = usage_field(principal)
        if field is None:
            return await self._key_limit(principal)
        bucket, rate, burst = self._key_bucket(principal)
        return await self.limiter.count_and_take(
            counter, field, bucket, rate_per_second=rate, burst=burst
        )

    def _apply(self, request: ProxyRequest, grant: _Grant) -> None:
        """Replace the granted headers on the request; a verified principal goes with the context
        signed for its grant."""
        principal = grant.principal
        names = {name for name, _ in grant.headers}
        if principal is not None:
            names |= _SIGNED
        items = [item for item in request.headers.items if item[0] not in names]
        if principal is None:
            items.extend(grant.headers)
        else:
            items.extend(item for item in grant.headers if item[0] not in _SIGNED)
            items.extend(grant.signed)
            request.principal = principal
            tenant_id_var.set(principal.tenant_id)
        request.headers.items = items

    async def _hit(
        self, request: ProxyRequest, counter: str, principal: Principal
    ) -> Decision | None:
        """Meter a request served from the cache. Without a key limit to decide now, the count is
        left on the request for the tenant's rate limit to carry (no round trip of its own)."""
        field = usage_field(principal)
        if field is not None and not principal.rate_limit_rpm:
            request.usage = PendingCount(counter, field)
            return _ALLOWED
        return await self._count_hit(counter, principal)

    async def _settle(self, request: ProxyRequest, usage: PendingCount) -> None:
        """Make sure a cached request was counted once: send a count no one carried; if Redis
        could not take it, ask forward-auth again, which counts the call itself."""
        if usage.state == "pending":
            sent = await self.limiter.count_and_take(
                usage.counter, usage.field, None, rate_per_second=0.0, burst=0
            )
            usage.state = "counted" if sent is not None else "failed"
        if usage.state == "failed":
            logger.warning("usage counter unavailable, metering through forward-auth instead")
            if isinstance(await self._ask(request), ProxyResponse):
                tenant = request.principal.tenant_id if request.principal else None
                logger.error("an API call of tenant %s could not be metered", tenant)

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        counter = self.counter
        key = self._cache_key(request) if counter is not None else None
        grant = self.cache.get(key) if key is not None else None
        decision: Decision | None = None
        if grant is not None and grant.principal is not None and counter is not None:
            decision = await self._hit(request, counter, grant.principal)
            if decision is None:
                grant = None
        if grant is None:
            answer = await self._ask_within_share(request, key)
            if isinstance(answer, ProxyResponse):
                return answer
            grant = answer
            if key is not None and grant.principal is not None:
                self.cache.put(key, grant)
        usage = request.usage
        try:
            self._apply(request, grant)
            principal = grant.principal
            if principal is not None:
                if decision is None:
                    decision = await self._key_limit(principal)
                if not decision.allowed:
                    return problem(
                        request,
                        429,
                        f"API key rate limit exceeded ({principal.rate_limit_rpm} requests per "
                        "minute)",
                        retry_after=decision.retry_after,
                    )
            return await call_next(request)
        finally:
            if usage is not None:
                await self._settle(request, usage)
