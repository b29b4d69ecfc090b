"""Transport-independent pieces shared by the sync and async clients.

Retry decisions live here once: which answers are worth another attempt, how long to wait
(exponential backoff with full jitter, or the server's Retry-After when it sent one), and how a
final answer becomes either a payload or a typed AOSError.
"""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from aos_sdk.errors import (
    AOSConnectionError,
    AOSError,
    QuotaExceededError,
    error_class_for,
)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IN_PROGRESS_DETAIL = "A request with this idempotency key is in progress"
USER_AGENT = "aos-sdk-python/0.1.0"

# Path prefix -> service name, for deployments without a gateway (each service on its own URL).
_SERVICE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/api/v1/traces", "traces"),
    ("/v1/traces", "traces"),
    ("/api/v1/cost", "cost-intel"),
    ("/api/v1/audit", "audit-ledger"),
    ("/api/v1/guard", "guard-logs"),
    ("/api/v1/logs", "guard-logs"),
    ("/api/v1/runs", "tenants"),
    ("/api/v1/tenant", "tenants"),
    ("/api/v1/workers", "tenants"),
)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)] (attempt counts from 0)."""
        return random.uniform(0.0, min(self.backoff_max, self.backoff_base * (2**attempt)))


@dataclass
class Call:
    """One logical call: the same Idempotency-Key is sent on every attempt of a write."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    quota_call: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def write(cls, method: str, path: str, json: Any = None, **kw: Any) -> Call:
        key = kw.pop("idempotency_key", None) or str(uuid.uuid4())
        return cls(method, path, json=json, idempotency_key=key, **kw)


def service_url(base_url: str, services: Mapping[str, str], path: str) -> str:
    for prefix, name in _SERVICE_PREFIXES:
        if path.startswith(prefix) and name in services:
            return services[name].rstrip("/")
    return base_url.rstrip("/")


def build_headers(api_key: str, call: Call) -> dict[str, str]:
    headers = {"X-AOS-Key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"}
    if call.idempotency_key:
        headers["Idempotency-Key"] = call.idempotency_key
    headers.update(call.headers)
    return headers


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _problem(response: httpx.Response) -> tuple[str, Any, str | None]:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    detail = None
    title = None
    if isinstance(body, dict):
        detail = body.get("detail")
        title = body.get("title")
        if not isinstance(detail, str):
            detail = None if detail is None else str(detail)
    text = detail or title or response.reason_phrase or f"HTTP {response.status_code}"
    return text, body, title


def request_id_of(response: httpx.Response, body: Any = None) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("request_id"), str):
        return str(body["request_id"])
    return response.headers.get("x-request-id")


def error_from_response(response: httpx.Response, call: Call) -> AOSError:
    detail, body, title = _problem(response)
    status = response.status_code
    cls = error_class_for(status)
    if status == 429 and call.quota_call:
        cls = QuotaExceededError
    return cls(
        detail,
        status=status,
        request_id=request_id_of(response, body),
        title=title,
        body=body,
        headers={k.lower(): v for k, v in response.headers.items()},
    )


def connection_error(exc: Exception) -> AOSConnectionError:
    return AOSConnectionError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def retry_delay(
    policy: RetryPolicy, call: Call, response: httpx.Response, attempt: int
) -> float | None:
    """How long to wait before retrying `response`, or None when it is final."""
    if attempt >= policy.max_retries:
        return None
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 409:
        detail, _, _ = _problem(response)
        if detail != IN_PROGRESS_DETAIL or call.idempotency_key is None:
            return None
    elif status not in RETRY_STATUSES:
        return None
    if status == 429 and call.quota_call and retry_after is None:
        # A quota refusal is an answer, not congestion: only a rate limiter sends Retry-After.
        return None
    if retry_after is not None:
        return retry_after if retry_after <= policy.max_retry_after else None
    return policy.backoff(attempt)


def transport_retry_delay(policy: RetryPolicy, call: Call, attempt: int) -> float | None:
    """Connection failures are retried for reads and for writes that carry an idempotency key."""
    if attempt >= policy.max_retries:
        return None
    if call.method not in ("GET", "HEAD") and call.idempotency_key is None:
        return None
    return policy.backoff(attempt)


class Attempts:
    """One call's way through the retry policy. Both clients' send loops ask it what follows a
    failed attempt (a delay, or the final error raised), so only how they wait differs."""

    def __init__(self, policy: RetryPolicy, call: Call) -> None:
        self.policy = policy
        self.call = call
        self.count = 0

    def after_transport_error(self, exc: httpx.TransportError) -> float:
        delay = transport_retry_delay(self.policy, self.call, self.count)
        if delay is None:
            raise connection_error(exc) from exc
        self.count += 1
        return delay

    def after_failure(self, response: httpx.Response) -> float:
        delay = retry_delay(self.policy, self.call, response, self.count)
        if delay is None:
            raise error_from_response(response, self.call)
        self.count += 1
        return delay


def decode(response: httpx.Response) -> Any:
    """The payload of a successful answer, with the (envelope) wrapper removed."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict) and body.get("success") is True and "data" in body and "meta" in body:
        return body["data"]
    return body
