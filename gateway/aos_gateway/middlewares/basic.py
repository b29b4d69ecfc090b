"""The simple Traefik middlewares: headers (with CORS), stripPrefix, buffering, inFlightReq, retry,
and the shared `sourceCriterion` extraction used by rateLimit and inFlightReq."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from urllib.parse import quote

from aos_gateway.config.models import (
    Buffering,
    Headers,
    InFlightReq,
    Retry,
    SourceCriterion,
    StripPrefix,
)
from aos_gateway.proxy.types import Handler, ProxyRequest, ProxyResponse, problem
from aos_gateway.proxy.types import Headers as HeaderMap

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_BUFFER_LIMIT = 1_048_576
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def source_of(request: ProxyRequest, criterion: SourceCriterion | None) -> str:
    """Traefik's sourceCriterion: a request header, the host, or the client IP (default)."""
    if criterion is not None:
        if criterion.request_header_name:
            return request.headers.get(criterion.request_header_name) or ""
        if criterion.request_host:
            return request.host
        strategy = criterion.ip_strategy
        if strategy is not None and (strategy.depth > 0 or strategy.excluded_ips):
            forwarded = [
                part.strip()
                for part in (request.headers.get("x-forwarded-for") or "").split(",")
                if part.strip()
            ]
            if strategy.depth > 0:
                return forwarded[-strategy.depth] if len(forwarded) >= strategy.depth else ""
            for address in reversed(forwarded):
                if address not in strategy.excluded_ips:
                    return address
    return request.client_ip


class HeadersMiddleware:
    """customRequestHeaders/customResponseHeaders, CORS (preflight answered here), security headers."""

    def __init__(self, spec: Headers) -> None:
        self.spec = spec
        self.origin_patterns = [re.compile(p) for p in spec.access_control_allow_origin_list_regex]
        self.cors = bool(spec.access_control_allow_origin_list or self.origin_patterns)

    def allowed_origin(self, origin: str) -> str | None:
        if "*" in self.spec.access_control_allow_origin_list:
            return "*"
        if origin in self.spec.access_control_allow_origin_list:
            return origin
        if any(pattern.search(origin) for pattern in self.origin_patterns):
            return origin
        return None

    def _cors_headers(self, headers: HeaderMap, origin: str | None, preflight: bool) -> None:
        spec = self.spec
        allowed = self.allowed_origin(origin) if origin else None
        if allowed is not None:
            headers.set("access-control-allow-origin", allowed)
            if spec.access_control_allow_credentials:
                headers.set("access-control-allow-credentials", "true")
        if spec.add_vary_header and allowed not in (None, "*"):
            headers.set("vary", "Origin")
        if preflight:
            if spec.access_control_allow_methods:
                headers.set(
                    "access-control-allow-methods", ", ".join(spec.access_control_allow_methods)
                )
            if spec.access_control_allow_headers:
                headers.set(
                    "access-control-allow-headers", ", ".join(spec.access_control_allow_headers)
                )
            if spec.access_control_max_age:
                headers.set("access-control-max-age", str(spec.access_control_max_age))
        elif spec.access_control_expose_headers and allowed is not None:
            headers.set(
                "access-control-expose-headers", ", ".join(spec.access_control_expose_headers)
            )

    def _security_headers(self, request: ProxyRequest, headers: HeaderMap) -> None:
        spec = self.spec
        if spec.content_type_nosniff:
            headers.set("x-content-type-options", "nosniff")
        if spec.custom_frame_options_value:
            headers.set("x-frame-options", spec.custom_frame_options_value)
        elif spec.frame_deny:
            headers.set("x-frame-options", "DENY")
        if spec.browser_xss_filter:
            headers.set("x-xss-protection", "1; mode=block")
        if spec.referrer_policy:
            headers.set("referrer-policy", spec.referrer_policy)
        if spec.content_security_policy:
            headers.set("content-security-policy", spec.content_security_policy)
        if spec.permissions_policy:
            headers.set("permissions-policy", spec.permissions_policy)
        if spec.sts_seconds and (request.scheme == "https" or spec.force_sts_header):
            value = f"max-age={spec.sts_seconds}"
            if spec.sts_include_subdomains:
                value += "; includeSubDomains"
            if spec.sts_preload:
                value += "; preload"
            headers.set("strict-transport-security", value)

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        origin = request.headers.get("origin")
        if (
            self.cors
            and request.method == "OPTIONS"
            and origin
            and request.headers.get("access-control-request-method")
        ):
            headers = HeaderMap([("content-length", "0")])
            self._cors_headers(headers, origin, preflight=True)
            return ProxyResponse(200, headers)
        for name, value in self.spec.custom_request_headers.items():
            if value == "":
                request.headers.remove(name)
            else:
                request.headers.set(name, value)
        response = await call_next(request)
        for name, value in self.spec.custom_response_headers.items():
            if value == "":
                response.headers.remove(name)
            else:
                response.headers.set(name, value)
        if self.cors:
            self._cors_headers(response.headers, origin, preflight=False)
        self._security_headers(request, response.headers)
        return response


class StripPrefixMiddleware:
    def __init__(self, spec: StripPrefix) -> None:
        self.prefixes = sorted(spec.prefixes, key=len, reverse=True)

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        for prefix in self.prefixes:
            if request.path.startswith(prefix):
                rest = request.path[len(prefix) :]
                request.path = rest if rest.startswith("/") else "/" + rest
                raw = request.raw_path
                if raw.startswith(prefix):
                    rest = raw[len(prefix) :]
                    request.raw_path = rest if rest.startswith("/") else "/" + rest
                elif raw:  # the prefix itself arrived percent-encoded: encode the decoded rest
                    request.raw_path = quote(request.path, safe=_PATH_SAFE)
                request.headers.set("x-forwarded-prefix", prefix)
                break
        return await call_next(request)


class BufferingMiddleware:
    """Reads the body whole before forwarding; over `maxRequestBodyBytes` -> 413."""

    def __init__(self, spec: Buffering) -> None:
        self.limit = spec.max_request_body_bytes or (1 << 62)

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        body = await request.body.read(self.limit)
        if body is None:
            return problem(request, 413, f"Request body exceeds the limit of {self.limit} bytes")
        return await call_next(request)


class InFlightReqMiddleware:
    """At most `amount` requests in flight per source and per upstream service, per gateway replica.

    Traefik counts per source for the routers using the middleware; here the count is also per
    upstream service, so `amount` is a tenant's concurrency share of each service: a tenant
    flooding one slow service is refused (429) past its share, and neither takes the capacity of
    that service away from other tenants nor its own share of the other services.
    """

    def __init__(self, spec: InFlightReq) -> None:
        self.spec = spec
        self.in_flight: defaultdict[tuple[str, str], int] = defaultdict(int)

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        key = (request.service, source_of(request, self.spec.source_criterion))
        if self.in_flight[key] >= self.spec.amount:
            return problem(
                request,
                429,
                f"Too many concurrent requests to {request.service or 'this service'} "
                f"(at most {self.spec.amount} at a time); retry when one has finished",
                retry_after=1,
            )
        self.in_flight[key] += 1
        try:
            return await call_next(request)
        finally:
            self.in_flight[key] -= 1
            if self.in_flight[key] <= 0:
                del self.in_flight[key]


class RetryMiddleware:
    """Re-sends idempotent requests that got no answer (network errors), with exponential backoff.

    Only when the upstream never answered: an HTTP error status is an answer and is passed on.
    """

    def __init__(self, spec: Retry) -> None:
        self.attempts = spec.attempts
        self.initial = spec.initial_interval_seconds

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        if self.attempts <= 1 or request.method not in IDEMPOTENT_METHODS:
            return await call_next(request)
        if not request.body.replayable():
            length = request.body.declared_length
            if length is None or length > RETRY_BUFFER_LIMIT:
                return await call_next(request)
            await request.body.read(RETRY_BUFFER_LIMIT)
        delay = self.initial
        response = await call_next(request)
        for _ in range(self.attempts - 1):
            if response.upstream_error != "connect" or response.status == 504:
                return response
            await response.discard()
            if delay > 0:
                await asyncio.sleep(delay)
                delay *= 2
            response = await call_next(request)
        return response
