"""Two real gateways (started by gateway/tests/proxy/conftest.py) for the proxy tests, each a uvicorn process talking to real stand-in upstreams.

- `platform`: the shipped gateway/dynamic.yml, with the five service URLs pointed (by env, as in
  production) at five stand-in processes; the "tenants" one answers forward-auth and the
  "cost-intel" one the budget guard.
- `lab`: a test document exercising what the shipped one configures generously (tiny body limit,
  a fast breaker, a killable upstream with fast health checks, a 1 s upstream timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway_testing.processes import Process

SECRET = "gateway-tests-internal-secret-0123456789"
SERVICES = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs")
DYNAMIC_YML = Path(__file__).resolve().parents[2] / "dynamic.yml"

LAB_DOCUMENT = """
http:
  routers:
    alpha:
      rule: "PathPrefix(`/api/v1/alpha`)"
      service: alpha
      middlewares: [cors, auth, retry]
    open:
      rule: "PathPrefix(`/open`) || Host(`open.example`)"
      service: alpha
      middlewares: [retry]
    stream:
      rule: "Path(`/stream`)"
      service: alpha
    body:
      rule: "PathPrefix(`/body`)"
      service: alpha
      middlewares: [small-body]
    strip:
      rule: "PathPrefix(`/strip`) && Method(`GET`)"
      service: alpha
      middlewares: [strip]
    limited:
      rule: "PathPrefix(`/limited`)"
      service: alpha
      middlewares: [per-header]
    flaky:
      rule: "PathPrefix(`/flaky`)"
      service: flaky
      middlewares: [retry]
    breaker:
      rule: "PathPrefix(`/breaker`)"
      service: breaker
      middlewares: [fast-breaker]
    inflight:
      rule: "PathPrefix(`/inflight`)"
      service: alpha
      middlewares: [one-at-a-time]
    catch-all:
      rule: "PathPrefix(`/`)"
      priority: 1
      service: alpha
  middlewares:
    cors:
      headers:
        accessControlAllowOriginList: ["http://console.example"]
        accessControlAllowMethods: [GET, POST]
        accessControlAllowHeaders: [Authorization, X-AOS-Key]
        accessControlExposeHeaders: [X-Request-ID]
        addVaryHeader: true
    auth:
      forwardAuth:
        address: "{alpha}/internal/v1/auth/forward"
        authResponseHeaders: [X-AOS-Tenant-Id, X-AOS-Context, X-AOS-Context-Signature]
    retry:
      retry: {{attempts: 3, initialInterval: 50ms}}
    small-body:
      buffering: {{maxRequestBodyBytes: 1024}}
    strip:
      stripPrefix: {{prefixes: [/strip]}}
    per-header:
      rateLimit:
        average: 2
        period: 1m
        burst: 2
        sourceCriterion: {{requestHeaderName: X-Client}}
    fast-breaker:
      circuitBreaker:
        expression: "ResponseCodeRatio(500, 600, 0, 600) > 0.5"
        checkPeriod: 10ms
        fallbackDuration: 1s
        recoveryDuration: 500ms
    one-at-a-time:
      inFlightReq: {{amount: 1}}
  services:
    alpha:
      loadBalancer:
        servers: [{{url: "{alpha}"}}]
    flaky:
      loadBalancer:
        servers: [{{url: "{flaky}"}}]
        healthCheck: {{path: /healthz, interval: 100ms, timeout: 500ms}}
    breaker:
      loadBalancer:
        servers: [{{url: "{breaker}"}}]
"""


@dataclass
class Stack:
    gateway: Process
    upstreams: dict[str, Process]
    urls: dict[str, str]

    @property
    def url(self) -> str:
        return self.gateway.url


def _start_all(processes: list[Process]) -> None:
    for process in processes:
        process.start()
    for process in processes:
        process.wait_ready()
