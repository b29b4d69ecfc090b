"""Load a Traefik v3 file-provider document into a checked, compiled `GatewayConfig`.

Everything that can be wrong with the document is found here, at start-up (or at reload, where the
old configuration stays in force): an unknown middleware kind or option, a rule that does not parse,
a bad circuit-breaker expression, a reference to a missing service or middleware, a chain cycle.
Each error names the router, service or middleware it is about.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aos_gateway.cb_expression import ExpressionError, Predicate, parse_expression
from aos_gateway.config.models import (
    MIDDLEWARE_KINDS,
    CircuitBreaker,
    Headers,
    LoadBalancer,
    Middleware,
    Router,
    Service,
)
from aos_gateway.config.template import TemplateError, render_template
from aos_gateway.durations import DurationError, parse_duration
from aos_gateway.rules import Matcher, RuleError, parse_rule

BUDGET_MARKER_HEADER = "X-AOS-Budget-Guard"
"""A `headers` middleware that sets this request header marks its routers as budget-enforced.

Real Traefik just forwards the header (harmless); the AOS gateway additionally asks cost-intel's
guard before forwarding. It is the only way to mark a route that keeps the document valid against
the Traefik schema and loadable by real Traefik.
"""


class ConfigError(ValueError):
    """The document cannot be served; the message names what is wrong and where."""


@dataclass(frozen=True)
class CompiledRouter:
    name: str
    rule: str
    priority: int
    matcher: Matcher
    service: str
    middlewares: tuple[Middleware, ...]
    budget_enforced: bool


@dataclass(frozen=True)
class GatewayConfig:
    routers: tuple[CompiledRouter, ...]
    services: Mapping[str, Service]
    middlewares: Mapping[str, Middleware]
    breaker_predicates: Mapping[str, Predicate] = field(default_factory=dict)
    source: str = ""

    def match(self, request: Any) -> CompiledRouter | None:
        for router in self.routers:
            if router.matcher(request):
                return router
        return None


def _reference(name: str, what: str, owner: str) -> str:
    """Strip Traefik's `@file` provider suffix; any other provider cannot be resolved here."""
    base, _, provider = name.partition("@")
    if provider and provider != "file":
        raise ConfigError(f"{owner} references {what} {name!r} from provider {provider!r}")
    return base


def _option_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            parts.append(f"option {location!r} is not supported")
        else:
            parts.append(f"{location or 'value'}: {item['msg']}")
    return "; ".join(parts)


def _parse_middleware(name: str, raw: Any) -> Middleware:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigError(f"middleware {name!r} must have exactly one kind")
    kind, options = next(iter(raw.items()))
    model = MIDDLEWARE_KINDS.get(kind)
    if model is None:
        raise ConfigError(f"middleware {name!r}: unknown middleware kind {kind!r}")
    try:
        spec = model.model_validate(options or {})
    except ValidationError as error:
        raise ConfigError(f"middleware {name!r} ({kind}): {_option_errors(error)}") from None
    _check_durations(name, kind, spec)
    return Middleware(name=name, kind=kind, spec=spec)


def _check_durations(name: str, kind: str, spec: Any) -> None:
    for field_name in (
        "period",
        "initial_interval",
        "check_period",
        "fallback_duration",
        "recovery_duration",
        "interval",
        "timeout",
    ):
        value = getattr(spec, field_name, None)
        if value is not None:
            try:
                parse_duration(value)
            except DurationError as error:
                raise ConfigError(f"{kind} {name!r}: {field_name}: {error}") from None


def _parse_service(name: str, raw: Any) -> Service:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigError(f"service {name!r} must have exactly one kind")
    kind, options = next(iter(raw.items()))
    if kind != "loadBalancer":
        raise ConfigError(f"service {name!r}: unknown service kind {kind!r}")
    try:
        balancer = LoadBalancer.model_validate(options or {})
    except ValidationError as error:
        raise ConfigError(f"service {name!r} (loadBalancer): {_option_errors(error)}") from None
    if balancer.health_check is not None:
        _check_durations(name, "healthCheck", balancer.health_check)
    for server in balancer.servers:
        if not server.url.startswith(("http://", "https://")):
            raise ConfigError(f"service {name!r}: server url {server.url!r} is not http(s)")
    return Service(name=name, load_balancer=balancer)


def _expand(
    names: list[str], owner: str, middlewares: Mapping[str, Middleware], trail: tuple[str, ...]
) -> list[Middleware]:
    expanded: list[Middleware] = []
    for reference in names:
        name = _reference(reference, "middleware", owner)
        middleware = middlewares.get(name)
        if middleware is None:
            raise ConfigError(f"{owner} references unknown middleware {reference!r}")
        if middleware.kind == "chain":
            if name in trail:
                raise ConfigError(f"middleware chain cycle: {' -> '.join((*trail, name))}")
            expanded.extend(
                _expand(middleware.spec.middlewares, f"chain {name!r}", middlewares, (*trail, name))
            )
        else:
            expanded.append(middleware)
    return expanded


def _is_budget_marker(middleware: Middleware) -> bool:
    if middleware.kind != "headers":
        return False
    spec: Headers = middleware.spec
    return any(key.lower() == BUDGET_MARKER_HEADER.lower() for key in spec.custom_request_headers)


def build_config(document: Mapping[str, Any], source: str = "") -> GatewayConfig:
    """Check and compile a parsed (already templated) document."""
    if not isinstance(document, Mapping):
        raise ConfigError("the document must be a mapping with an 'http' section")
    for section in document:
        if section != "http":
            raise ConfigError(f"section {section!r} is not supported by the AOS gateway")
    http = document.get("http") or {}
    for section in http:
        if section not in ("routers", "services", "middlewares"):
            raise ConfigError(f"http section {section!r} is not supported by the AOS gateway")

    middlewares = {
        name: _parse_middleware(name, raw) for name, raw in (http.get("middlewares") or {}).items()
    }
    predicates: dict[str, Predicate] = {}
    for name, middleware in middlewares.items():
        if middleware.kind == "circuitBreaker":
            spec: CircuitBreaker = middleware.spec
            try:
                predicates[name] = parse_expression(spec.expression)
            except ExpressionError as error:
                raise ConfigError(f"middleware {name!r}: {error}") from None
        elif middleware.kind == "chain":
            _expand([name], f"chain {name!r}", middlewares, ())

    services = {
        name: _parse_service(name, raw) for name, raw in (http.get("services") or {}).items()
    }

    routers: list[CompiledRouter] = []
    for name, raw in (http.get("routers") or {}).items():
        if "@" in name:
            raise ConfigError(f"router name {name!r} must not contain '@'")
        try:
            router = Router.model_validate({**(raw or {}), "name": name})
        except ValidationError as error:
            raise ConfigError(f"router {name!r}: {_option_errors(error)}") from None
        if router.rule_syntax not in (None, "v3"):
            raise ConfigError(
                f"router {name!r}: ruleSyntax {router.rule_syntax!r} is not supported"
            )
        try:
            matcher = parse_rule(router.rule)
        except RuleError as error:
            raise ConfigError(f"router {name!r}: {error}") from None
        service = _reference(router.service, "service", f"router {name!r}")
        if service not in services:
            raise ConfigError(f"router {name!r} references unknown service {router.service!r}")
        chain = _expand(router.middlewares, f"router {name!r}", middlewares, ())
        routers.append(
            CompiledRouter(
                name=name,
                rule=router.rule,
                priority=router.effective_priority,
                matcher=matcher,
                service=service,
                middlewares=tuple(chain),
                budget_enforced=any(_is_budget_marker(m) for m in chain),
            )
        )
    if not routers:
        raise ConfigError("the document defines no http routers")
    routers.sort(key=lambda r: (-r.priority, r.name))
    return GatewayConfig(
        routers=tuple(routers),
        services=services,
        middlewares=middlewares,
        breaker_predicates=predicates,
        source=source,
    )


def parse_document(text: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Render the template actions and parse the YAML."""
    try:
        rendered = render_template(text, os.environ if environ is None else environ)
    except TemplateError as error:
        raise ConfigError(str(error)) from None
    try:
        document = yaml.safe_load(rendered)
    except yaml.YAMLError as error:
        raise ConfigError(f"the document is not valid YAML: {error}") from None
    return document or {}


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read, render, parse and compile `path`; every problem is a `ConfigError`."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read {file}: {error.strerror}") from None
    return build_config(parse_document(text, environ), source=str(file))


def default_config_path() -> Path:
    """`AOS_GATEWAY_CONFIG`, else the `dynamic.yml` shipped beside the package."""
    configured = os.environ.get("AOS_GATEWAY_CONFIG")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "dynamic.yml"
