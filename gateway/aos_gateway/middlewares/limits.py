"""The rateLimit middleware (Traefik semantics, Redis-shared buckets) and the budget guard."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from aos_common.http_client import PeerUnavailable, ServiceClient
from aos_gateway.config.models import RateLimit
from aos_gateway.middlewares.basic import source_of
from aos_gateway.middlewares.ratelimit import RateLimiter, bucket_key
from aos_gateway.proxy.types import Handler, ProxyRequest, ProxyResponse, problem

logger = logging.getLogger("aos.gateway.limits")

GUARD_PATH = "/internal/v1/cost/guard"


class RateLimitMiddleware:
    """`average` per `period`, `burst` deep, per source; buckets are shared by every replica and
    every router using this middleware (keyed by the middleware's name). A usage count forward-auth
    left pending on the request rides along in the same Redis round trip."""

    def __init__(self, name: str, spec: RateLimit, limiter: RateLimiter) -> None:
        self.name = name
        self.spec = spec
        self.limiter = limiter
        self.rate = float(spec.average) / spec.period_seconds
        self.burst = max(1, spec.burst)

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        if self.rate > 0:
            source = source_of(request, self.spec.source_criterion)
            decision = await self.limiter.take_with(
                request.usage,
                bucket_key(self.name, source),
                rate_per_second=self.rate,
                burst=self.burst,
            )
            if not decision.allowed:
                return problem(
                    request, 429, "Rate limit exceeded", retry_after=decision.retry_after
                )
        return await call_next(request)


class BudgetGuardMiddleware:
    """On budget-marked routes: ask cost-intel whether the caller's tenant may spend, 402 if not.

    When cost-intel cannot answer, the tenant's budgets decide (`on_unavailable`, which every
    guard answer carries and which is remembered per tenant): `deny` answers 503; `allow` lets
    the request through, counted as a fail-open. A tenant not seen since start is let through
    (counted) to the service, whose own check applies the same policy with a deny default: the
    run start in tenants is the one budget-marked route.
    """

    MAX_REMEMBERED = 100_000

    def __init__(
        self, client: ServiceClient, on_fail_open: Callable[[], None] | None = None
    ) -> None:
        self.client = client
        self.failures = 0
        self._on_fail_open = on_fail_open
        self._deny_when_unavailable: OrderedDict[str, bool] = OrderedDict()

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        principal = request.principal
        if principal is None or principal.tenant_id is None or request.budget_checked:
            return await call_next(request)
        request.budget_checked = True
        tenant_id = principal.tenant_id
        try:
            response = await self.client.request(
                "cost-intel",
                "GET",
                GUARD_PATH,
                tenant_id=tenant_id,
                params={"tenant_id": tenant_id, "estimated_cost_cents": 0},
            )
            verdict = response.json() if response.status_code == 200 else None
        except (PeerUnavailable, ValueError) as error:
            verdict = None
            logger.warning("budget guard unavailable for tenant %s: %s", tenant_id, error)
        if verdict is None:
            self.failures += 1
            if self._deny_when_unavailable.get(tenant_id):
                return problem(
                    request,
                    503,
                    "Budget check unavailable: cost-intel cannot be reached and this tenant's "
                    "budget refuses work it cannot check (on_unavailable: deny); try again shortly",
                    retry_after=5,
                )
            if self._on_fail_open is not None:
                self._on_fail_open()
        else:
            self._remember(tenant_id, verdict.get("on_unavailable") == "deny")
            if verdict.get("allowed") is False:
                reason = verdict.get("reason") or "Budget exhausted"
                return problem(
                    request,
                    402,
                    reason,
                    extra={
                        "budget_id": verdict.get("budget_id"),
                        "remaining_cents": verdict.get("remaining_cents"),
                    },
                )
        return await call_next(request)

    def _remember(self, tenant_id: str, deny: bool) -> None:
        self._deny_when_unavailable[tenant_id] = deny
        self._deny_when_unavailable.move_to_end(tenant_id)
        if len(self._deny_when_unavailable) > self.MAX_REMEMBERED:
            self._deny_when_unavailable.popitem(last=False)
