"""The hard tenant budget, owned by cost-intel and consulted before a run starts.

Decision when cost-intel does not answer (down, slow, or erroring): fail open. Runs keep starting,
a warning is logged, and cost-intel is not asked again for `retry_seconds`, so an outage neither
blocks every tenant nor adds a timeout to every run start. Quotas owned here still apply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aos_common.http_client import PeerUnavailable, ServiceClient

logger = logging.getLogger("aos.tenants.budget")
GUARD_PATH = "/internal/v1/cost/guard"


class CostGuard:
    def __init__(
        self,
        client: ServiceClient | None,
        *,
        enabled: bool = True,
        timeout_seconds: float = 2.0,
        retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._enabled = enabled and client is not None
        self._timeout = timeout_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._skip_until = 0.0

    async def exhausted_budget(self, tenant_id: str, estimated_cost_cents: int = 0) -> str | None:
        """The id of an exhausted hard budget of the tenant, or None (also when unknown)."""
        if not self._enabled or self._clock() < self._skip_until:
            return None
        assert self._client is not None
        try:
            response = await asyncio.wait_for(
                self._client.request(
                    "cost-intel",
                    "GET",
                    GUARD_PATH,
                    params={"tenant_id": tenant_id, "estimated_cost_cents": estimated_cost_cents},
                    tenant_id=tenant_id,
                ),
                timeout=self._timeout,
            )
        except (PeerUnavailable, TimeoutError) as error:
            self._fail_open(f"{type(error).__name__}: {error}")
            return None
        if response.status_code != 200:
            self._fail_open(f"HTTP {response.status_code}")
            return None
        try:
            body = response.json()
        except ValueError:
            self._fail_open("invalid JSON")
            return None
        if body.get("allowed") is False:
            return str(body.get("budget_id") or "unknown")
        return None

    def _fail_open(self, reason: str) -> None:
        self._skip_until = self._clock() + self._retry_seconds
        logger.warning(
            "cost-intel budget guard unavailable (%s); failing open for %.0f s",
            reason,
            self._retry_seconds,
        )
