"""Traefik's circuit breaker: a rolling window of outcomes, an expression checked every
`checkPeriod`, and the standby -> tripped -> recovering -> standby cycle.

One circuit per tenant (see CircuitBreakerMiddleware). Tripped: every request of that tenant gets
`responseCode` (503 by default, "Upstream <service> unavailable" with a Retry-After of the fallback
time left). Recovering: traffic is let through in a share that grows
linearly over `recoveryDuration`; if the expression fires again the breaker trips again.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aos_gateway.cb_expression import Predicate
from aos_gateway.config.models import CircuitBreaker
from aos_gateway.proxy.types import Handler, ProxyRequest, ProxyResponse, problem

WINDOW_SECONDS = 10.0
STANDBY, TRIPPED, RECOVERING = "standby", "tripped", "recovering"
MAX_CIRCUITS = 10_000


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


@dataclass
class Circuit:
    """One tenant's breaker on one router: its window of outcomes and where it is in the cycle."""

    stats: BreakerStats
    state: str
    state_since: float
    last_check: float = 0.0


def circuit_key(request: ProxyRequest) -> str:
    """Whose outcomes a request counts among: its tenant, or for an unauthenticated route its
    client address (forward-auth's tenant header is set by the gateway; a client's is dropped)."""
    principal = request.principal
    if principal is not None and principal.tenant_id:
        return principal.tenant_id
    return request.headers.get("x-aos-tenant-id") or request.client_ip


class CircuitBreakerMiddleware:
    """A breaker per router and per tenant.

    Why per tenant: a breaker shared by everyone lets one tenant open it for all, by sending
    requests the upstream answers with errors (issue 13: twenty `?agent_id=%00` to guard-logs
    gave every tenant 503 for ~14 s). A tenant's circuit sees only that tenant's outcomes, so it
    trips on what that tenant observes; a real outage trips every tenant's circuit within the
    few requests each sends. Which outcomes count is the expression's (the shipped document
    counts network errors and 502/503/504, never a 500).
    """

    def __init__(
        self,
        spec: CircuitBreaker,
        predicate: Predicate,
        service: str,
        clock: Callable[[], float] = time.monotonic,
        max_circuits: int = MAX_CIRCUITS,
    ) -> None:
        self.spec = spec
        self.predicate = predicate
        self.service = service
        self.clock = clock
        self.max_circuits = max_circuits
        self.circuits: OrderedDict[str, Circuit] = OrderedDict()
        self._check_period = spec.check_period_seconds  # parsed once, not per request

    def circuit(self, key: str) -> Circuit:
        """The circuit of `key`, created closed; the least recently used are forgotten past
        `max_circuits` (a forgotten circuit starts closed again: memory stays bounded)."""
        circuit = self.circuits.get(key)
        if circuit is None:
            circuit = Circuit(BreakerStats(clock=self.clock), STANDBY, self.clock())
            self.circuits[key] = circuit
            if len(self.circuits) > self.max_circuits:
                self.circuits.popitem(last=False)
        else:
            self.circuits.move_to_end(key)
        return circuit

    def open_count(self) -> int:
        """How many circuits are tripped or recovering (the /metrics gauge)."""
        for circuit in self.circuits.values():
            self._advance(circuit)
        return sum(1 for circuit in self.circuits.values() if circuit.state != STANDBY)

    def _set(self, circuit: Circuit, state: str) -> None:
        circuit.state = state
        circuit.state_since = self.clock()
        if state in (TRIPPED, RECOVERING):
            circuit.stats.reset()

    def _advance(self, circuit: Circuit) -> None:
        now = self.clock()
        if circuit.state == TRIPPED and now - circuit.state_since >= self.spec.fallback_seconds:
            self._set(circuit, RECOVERING)
        elif (
            circuit.state == RECOVERING and now - circuit.state_since >= self.spec.recovery_seconds
        ):
            self._set(circuit, STANDBY)

    def _admit(self, circuit: Circuit) -> bool:
        if circuit.state == STANDBY:
            return True
        if circuit.state == TRIPPED:
            return False
        recovery = max(self.spec.recovery_seconds, 1e-6)
        share = (self.clock() - circuit.state_since) / recovery
        return random.random() < max(share, 0.05)

    def _check(self, circuit: Circuit) -> None:
        now = self.clock()
        if now - circuit.last_check < self._check_period:
            return
        circuit.last_check = now
        if circuit.state in (STANDBY, RECOVERING) and self.predicate(circuit.stats):
            self._set(circuit, TRIPPED)

    def _rejection(self, request: ProxyRequest, circuit: Circuit) -> ProxyResponse:
        remaining = self.spec.fallback_seconds - (self.clock() - circuit.state_since)
        if circuit.state == RECOVERING:
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
        circuit = self.circuit(circuit_key(request))
        self._advance(circuit)
        if not self._admit(circuit):
            return self._rejection(request, circuit)
        started = time.perf_counter()
        response = await call_next(request)
        latency_ms = (time.perf_counter() - started) * 1000
        circuit.stats.record(response.status, response.upstream_error is not None, latency_ms)
        self._check(circuit)
        return response
