"""The hard budgets, owned by cost-intel and consulted before a run starts.

When cost-intel does not answer (down, slow, or erroring) the run start follows the budgets' own
`on_unavailable` policy, never a silent fail-open: every answer of the guard says what to do while
it cannot be asked (`deny` when any applicable budget says so; hard budgets default to deny), and
the last answer per (tenant, key) is remembered. A tenant whose policy is not known yet (cost-intel
never answered for it since this instance started) gets `cost_guard_unknown_policy` (default
deny). After a failure cost-intel is not asked again for `retry_seconds`, so an outage does not add
a timeout to every run start; the remembered policy applies meanwhile. Every decision taken without
cost-intel is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aos_common.errors import ServiceUnavailable
from aos_common.http_client import PeerUnavailable, ServiceClient

logger = logging.getLogger("aos.tenants.budget")
GUARD_PATH = "/internal/v1/cost/guard"
Policy = Literal["deny", "allow"]
REMEMBERED_POLICIES = 100_000
RETRY_AFTER_SECONDS = 5


class BudgetCheckUnavailable(ServiceUnavailable):
    """503: the budget cannot be checked and its policy says deny."""


@dataclass
class _Verdict:
    budget_id: str | None
    policy: Policy


class CostGuard:
    def __init__(
        self,
        client: ServiceClient | None,
        *,
        enabled: bool = True,
        timeout_seconds: float = 2.0,
        retry_seconds: float = 30.0,
        unknown_policy: Policy = "deny",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._enabled = enabled and client is not None
        self._timeout = timeout_seconds
        self._retry_seconds = retry_seconds
        self._unknown_policy = unknown_policy
        self._clock = clock
        self._skip_until = 0.0
        self._policies: OrderedDict[tuple[str, str | None], Policy] = OrderedDict()

    async def exhausted_budget(
        self, tenant_id: str, estimated_cost_cents: int = 0, api_key_id: str | None = None
    ) -> str | None:
        """The id of an exhausted hard budget of the tenant (or the key), or None.

        Raises BudgetCheckUnavailable (503) when cost-intel cannot answer and the policy is deny.
        """
        if not self._enabled:
            return None
        scope = (tenant_id, api_key_id)
        if self._clock() < self._skip_until:
            self._without_cost_intel(scope, "not asked again yet after a failure")
            return None
        verdict = await self._ask(tenant_id, estimated_cost_cents, api_key_id)
        if isinstance(verdict, str):
            self._skip_until = self._clock() + self._retry_seconds
            self._without_cost_intel(scope, verdict)
            return None
        self._remember(scope, verdict.policy)
        return verdict.budget_id

    async def _ask(
        self, tenant_id: str, estimated_cost_cents: int, api_key_id: str | None
    ) -> _Verdict | str:
        """The guard's verdict, or why there is none."""
        assert self._client is not None
        params: dict[str, str | int] = {
            "tenant_id": tenant_id,
            "estimated_cost_cents": estimated_cost_cents,
        }
        if api_key_id is not None:
            params["api_key_id"] = api_key_id
        try:
            response = await asyncio.wait_for(
                self._client.request(
                    "cost-intel", "GET", GUARD_PATH, params=params, tenant_id=tenant_id
                ),
                timeout=self._timeout,
            )
        except (PeerUnavailable, TimeoutError) as error:
            return f"{type(error).__name__}: {error}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            return "invalid JSON"
        policy: Policy = "deny" if body.get("on_unavailable") == "deny" else "allow"
        if body.get("allowed") is False:
            return _Verdict(str(body.get("budget_id") or "unknown"), policy)
        return _Verdict(None, policy)

    def _remember(self, scope: tuple[str, str | None], policy: Policy) -> None:
        self._policies[scope] = policy
        self._policies.move_to_end(scope)
        while len(self._policies) > REMEMBERED_POLICIES:
            self._policies.popitem(last=False)

    def policy_for(self, tenant_id: str, api_key_id: str | None = None) -> Policy:
        """The remembered policy of (tenant, key), else of the tenant, else the default."""
        return self._policies.get(
            (tenant_id, api_key_id),
            self._policies.get((tenant_id, None), self._unknown_policy),
        )

    def _without_cost_intel(self, scope: tuple[str, str | None], reason: str) -> None:
        """Log that cost-intel could not answer; raise when the budget's policy is deny (an
        allowed run goes on unchecked)."""
        policy = self.policy_for(*scope)
        logger.warning(
            "cost-intel budget guard unavailable (%s); tenant %s: on_unavailable=%s",
            reason,
            scope[0],
            policy,
        )
        if policy == "deny":
            raise BudgetCheckUnavailable(
                "Budget check unavailable: cost-intel cannot be reached and this tenant's "
                "budget refuses work it cannot check (on_unavailable: deny); try again shortly",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return None
