"""Traefik's circuit breaker: a rolling window of outcomes, an expression checked every
`checkPeriod`, and the standby -> tripped -> recovering -> standby cycle.

Tripped: every request gets `responseCode` (503 by default, "Upstream <service> unavailable" with a
Retry-After of the fallback time left). Recovering: traffic is let through in a share that grows
linearly over `recoveryDuration`; if the expression fires again the breaker trips again.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aos_gateway.cb_expression import Predicate
from aos_gateway.config.models import CircuitBreaker
from aos_gateway.proxy.types import Handler, ProxyRequest, ProxyResponse, problem

WINDOW_SECONDS = 10.0
STANDBY, TRIPPED, RECOVERING = "standby", "tripped", "recovering"


@dataclass(slots=True)
class _Outcome:
    at: float
    status: int
    network_error: bool
    latency_ms: float


@dataclass
class BreakerStats:
    """Outcomes of the last `WINDOW_SECONDS`, answering the expression's functions.

    Network errors and status codes are also counted as outcomes enter and leave the window, so
    a check costs a pass over the distinct codes, not over every request of the last 10 s.
    """

    clock: Callable[[], float] = time.monotonic
    outcomes: deque[_Outcome] = field(default_factory=deque)
    network_errors: int = 0
    codes: Counter[int] = field(default_factory=Counter)

    def record(self, status: int, network_error: bool, latency_ms: float) -> None:
        now = self.clock()
        self.outcomes.append(_Outcome(now, status, network_error, latency_ms))
        if network_error:
            self.network_errors += 1
        else:
            self.codes[status] += 1
        self._trim(now)

    def _trim(self, now: float) -> None:
        outcomes = self.outcomes
        while outcomes and outcomes[0].at < now - WINDOW_SECONDS:
            gone = outcomes.popleft()
            if gone.network_error:
                self.network_errors -= 1
            else:
                self.codes[gone.status] -= 1
                if not self.codes[gone.status]:
                    del self.codes[gone.status]

    def reset(self) -> None:
        self.outcomes.clear()
        self.network_errors = 0
        self.codes.clear()

    def network_error_ratio(self) -> float:
        self._trim(self.clock())
        if not self.outcomes:
            return 0.0
        return self.network_errors / len(self.outcomes)

    def response_code_ratio(self, start: int, end: int, div_start: int, div_end: int) -> float:
        self._trim(self.clock())
        denominator = sum(n for code, n in self.codes.items() if div_start <= code < div_end)
        if denominator == 0:
            return 0.0
        return sum(n for code, n in self.codes.items() if start <= code < end) / denominator

    def latency_at_quantile_ms(self, quantile: float) -> float:
        self._trim(self.clock())
        latencies = sorted(o.latency_ms for o in self.outcomes)
        if not latencies:
            return 0.0
        index = max(0, min(len(latencies) - 1, math.ceil(quantile / 100 * len(latencies)) - 1))
        return latencies[index]


class CircuitBreakerMiddleware:
    def __init__(
        self,
        spec: CircuitBreaker,
        predicate: Predicate,
        service: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.predicate = predicate
        self.service = service
        self.clock = clock
        self.stats = BreakerStats(clock=clock)
        self.state = STANDBY
        self.state_since = clock()
        self._last_check = 0.0
        self._check_period = spec.check_period_seconds  # parsed once, not per request

    def _set(self, state: str) -> None:
        self.state = state
        self.state_since = self.clock()
        if state in (TRIPPED, RECOVERING):
            self.stats.reset()

    def _advance(self) -> None:
        now = self.clock()
        if self.state == TRIPPED and now - self.state_since >= self.spec.fallback_seconds:
            self._set(RECOVERING)
        elif self.state == RECOVERING and now - self.state_since >= self.spec.recovery_seconds:
            self._set(STANDBY)

    def _admit(self) -> bool:
        if self.state == STANDBY:
            return True
        if self.state == TRIPPED:
            return False
        recovery = max(self.spec.recovery_seconds, 1e-6)
        share = (self.clock() - self.state_since) / recovery
        return random.random() < max(share, 0.05)

    def _check(self) -> None:
        now = self.clock()
        if now - self._last_check < self._check_period:
            return
        self._last_check = now
        if self.state in (STANDBY, RECOVERING) and self.predicate(self.stats):
            self._set(TRIPPED)

    def _rejection(self, request: ProxyRequest) -> ProxyResponse:
        remaining = self.spec.fallback_seconds - (self.clock() - self.state_since)
        if self.state == RECOVERING:
            remaining = 1.0
        response = problem(
            request,
            self.spec.response_code,
            f"Upstream {self.service} unavailable",
            retry_after=max(remaining, 1.0),
        )
        response.headers.set("x-aos-circuit", "open")
        return response

    async def __call__(self, request: ProxyRequest, call_next: Handler) -> ProxyResponse:
        self._advance()
        if not self._admit():
            return self._rejection(request)
        started = time.perf_counter()
        response = await call_next(request)
        latency_ms = (time.perf_counter() - started) * 1000
        network_error = response.upstream_error is not None
        self.stats.record(response.status, network_error, latency_ms)
        self._check()
        return response
