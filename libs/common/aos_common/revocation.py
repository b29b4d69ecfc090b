"""Revocation everywhere within 5 s, although a signed context lives 60 s.

A context minted by forward-auth before its key was revoked is still correctly signed; the HMAC
alone would let it in until it expires. So every service keeps the set of keys revoked (or expired)
within a context's lifetime, refreshed every second from the tenants service, and refuses a
context of such a key. Older revocations need no entry: every context of theirs has expired.

When the set cannot be refreshed for more than 5 s (tenants unreachable), a service accepts a key's
context only if it was signed within the last 5 s, so that the bound holds whatever fails.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from aos_common.auth import CONTEXT_LIFETIME_SECONDS, INVALID_API_KEY, Principal
from aos_common.errors import Unauthorized
from aos_common.periodic import PeriodicTask

logger = logging.getLogger("aos.revocation")

REVOCATIONS_PATH = "/internal/v1/auth/revocations"
# A context lives 60 s and a verifier accepts one dated up to 5 s ahead of its clock.
REVOCATION_WINDOW_SECONDS = CONTEXT_LIFETIME_SECONDS + 10
REVOCATION_BOUND_SECONDS = 5.0
CONTEXT_TOO_OLD = "Gateway context expired"


@runtime_checkable
class RevocationSource(Protocol):
    async def recently_revoked(self) -> set[str]:
        """Ids of keys revoked or expired within the last REVOCATION_WINDOW_SECONDS."""


class RevocationWatch:
    """The recently revoked keys, refreshed in the background every `interval_seconds`."""

    def __init__(
        self,
        source: RevocationSource,
        *,
        interval_seconds: float = 1.0,
        stale_after_seconds: float = REVOCATION_BOUND_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._interval = interval_seconds
        self._stale_after = stale_after_seconds
        self._clock = clock
        self._revoked: frozenset[str] = frozenset()
        self._refreshed_at = -math.inf
        self._failing = False
        self._task = PeriodicTask(
            "revocation-watch",
            interval_seconds,
            self.refresh,
            logger=logger,
            first_tick_at_start=True,
        )

    @property
    def fresh(self) -> bool:
        return self._clock() - self._refreshed_at <= self._stale_after

    async def refresh(self) -> bool:
        """One refresh; False (and the previous set kept) when the source did not answer."""
        try:
            revoked = await self._source.recently_revoked()
        except Exception as error:
            if not self._failing:
                logger.warning("revoked keys could not be refreshed: %s", error)
            self._failing = True
            return False
        if self._failing:
            logger.info("revoked keys refreshed again")
        self._failing = False
        self._revoked = frozenset(revoked)
        self._refreshed_at = self._clock()
        return True

    def check(self, principal: Principal, expires: int, *, now: float | None = None) -> None:
        """Refuse the context of a revoked key, or an old one when the set is not fresh."""
        if principal.key_id is None:
            return
        if principal.key_id in self._revoked:
            raise Unauthorized(INVALID_API_KEY)
        if not self.fresh:
            issued = expires - CONTEXT_LIFETIME_SECONDS
            current = time.time() if now is None else now
            if issued < current - self._stale_after:
                raise Unauthorized(CONTEXT_TOO_OLD)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
