"""Typed models of the parts of a Traefik v3 file-provider document the gateway implements.

Field names follow Traefik (camelCase aliases). Every model forbids unknown fields: an option the
gateway does not implement is a start-up error naming it, never silently ignored. Durations are kept
as Traefik strings in the document and exposed in seconds.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from aos_gateway.durations import parse_duration

Duration = Annotated[str | int | float, Field()]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


def _seconds(value: str | int | float) -> float:
    return parse_duration(value)


# --- middlewares --------------------------------------------------------------------------------


class IpStrategy(_Model):
    depth: int = 0
    excluded_ips: list[str] = Field(default_factory=list, alias="excludedIPs")


class SourceCriterion(_Model):
    ip_strategy: IpStrategy | None = Field(default=None, alias="ipStrategy")
    request_header_name: str | None = None
    request_host: bool = False


class ForwardAuth(_Model):
    address: str
    trust_forward_header: bool = False
    auth_response_headers: list[str] = Field(default_factory=list)
    auth_response_headers_regex: str | None = None
    auth_request_headers: list[str] | None = None
    add_auth_cookies_to_response: list[str] = Field(default_factory=list)
    preserve_request_method: bool = False


class RateLimit(_Model):
    average: float | str = 0
    period: Duration = "1s"
    burst: int = 1
    source_criterion: SourceCriterion | None = None

    @field_validator("average")
    @classmethod
    def _numeric_average(cls, value: float | str) -> float:
        return float(value)

    @property
    def period_seconds(self) -> float:
        return _seconds(self.period) or 1.0


class InFlightReq(_Model):
    amount: int
    source_criterion: SourceCriterion | None = None


class StripPrefix(_Model):
    prefixes: list[str]
    force_slash: bool = True


class Headers(_Model):
    custom_request_headers: dict[str, str] = Field(default_factory=dict)
    custom_response_headers: dict[str, str] = Field(default_factory=dict)
    access_control_allow_credentials: bool = False
    access_control_allow_headers: list[str] = Field(default_factory=list)
    access_control_allow_methods: list[str] = Field(default_factory=list)
    access_control_allow_origin_list: list[str] = Field(default_factory=list)
    access_control_allow_origin_list_regex: list[str] = Field(default_factory=list)
    access_control_expose_headers: list[str] = Field(default_factory=list)
    access_control_max_age: int = 0
    add_vary_header: bool = False
    frame_deny: bool = False
    custom_frame_options_value: str | None = None
    content_type_nosniff: bool = False
    browser_xss_filter: bool = False
    referrer_policy: str | None = None
    content_security_policy: str | None = None
    permissions_policy: str | None = None
    sts_seconds: int = 0
    sts_include_subdomains: bool = False
    sts_preload: bool = False
    force_sts_header: bool = False


class Retry(_Model):
    attempts: int = Field(ge=0)
    initial_interval: Duration = "100ms"

    @property
    def initial_interval_seconds(self) -> float:
        return _seconds(self.initial_interval)


class CircuitBreaker(_Model):
    expression: str
    check_period: Duration = "100ms"
    fallback_duration: Duration = "10s"
    recovery_duration: Duration = "10s"
    response_code: int = 503

    @property
    def check_period_seconds(self) -> float:
        return _seconds(self.check_period)

    @property
    def fallback_seconds(self) -> float:
        return _seconds(self.fallback_duration)

    @property
    def recovery_seconds(self) -> float:
        return _seconds(self.recovery_duration)


class Buffering(_Model):
    max_request_body_bytes: int = 0
    mem_request_body_bytes: int = 1_048_576


class Chain(_Model):
    middlewares: list[str] = Field(min_length=1)


MIDDLEWARE_KINDS: dict[str, type[_Model]] = {
    "forwardAuth": ForwardAuth,
    "rateLimit": RateLimit,
    "inFlightReq": InFlightReq,
    "stripPrefix": StripPrefix,
    "headers": Headers,
    "retry": Retry,
    "circuitBreaker": CircuitBreaker,
    "buffering": Buffering,
    "chain": Chain,
}

MiddlewareSpec = (
    ForwardAuth
    | RateLimit
    | InFlightReq
    | StripPrefix
    | Headers
    | Retry
    | CircuitBreaker
    | Buffering
    | Chain
)


class Middleware(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    spec: Any


# --- services and routers -----------------------------------------------------------------------


class Server(_Model):
    url: str


class HealthCheck(_Model):
    path: str = "/"
    method: str = "GET"
    scheme: str | None = None
    hostname: str | None = None
    port: int | None = None
    interval: Duration = "30s"
    timeout: Duration = "5s"
    headers: dict[str, str] = Field(default_factory=dict)
    follow_redirects: bool = True

    @property
    def interval_seconds(self) -> float:
        return _seconds(self.interval)

    @property
    def timeout_seconds(self) -> float:
        return _seconds(self.timeout)


class ResponseForwarding(_Model):
    flush_interval: Duration = "100ms"


class LoadBalancer(_Model):
    servers: list[Server] = Field(min_length=1)
    health_check: HealthCheck | None = None
    pass_host_header: bool = True
    response_forwarding: ResponseForwarding | None = None


class Service(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    load_balancer: LoadBalancer


class Router(_Model):
    name: str = ""
    rule: str
    service: str
    middlewares: list[str] = Field(default_factory=list)
    priority: int = Field(default=0, ge=0)
    entry_points: list[str] = Field(default_factory=list)
    rule_syntax: str | None = None

    @property
    def effective_priority(self) -> int:
        return self.priority or len(self.rule)
