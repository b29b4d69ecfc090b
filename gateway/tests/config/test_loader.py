from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aos_gateway.config import ConfigError, build_config, load_config, parse_document
from aos_gateway.config.models import CircuitBreaker, RateLimit
from aos_gateway.rules import RequestInfo

DYNAMIC_YML = Path(__file__).resolve().parents[2] / "dynamic.yml"


def document(**middlewares: Any) -> dict[str, Any]:
    return {
        "http": {
            "routers": {
                "r": {"rule": "PathPrefix(`/x`)", "service": "s", "middlewares": list(middlewares)}
            },
            "services": {"s": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}},
            "middlewares": middlewares,
        }
    }


def test_shipped_document_loads_into_typed_models() -> None:
    config = load_config(DYNAMIC_YML, environ={})
    assert set(config.services) == {"tenants", "traces", "cost-intel", "audit-ledger", "guard-logs"}
    limit = config.middlewares["ratelimit-tenant"].spec
    assert isinstance(limit, RateLimit)
    assert limit.source_criterion is not None
    assert limit.source_criterion.request_header_name == "X-AOS-Tenant-Id"
    breaker = config.middlewares["circuit-breaker"].spec
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.fallback_seconds == 10.0


@pytest.mark.parametrize(
    ("path", "method", "service"),
    [
        ("/api/v1/tenant", "GET", "tenants"),
        ("/api/v1/tenants/tnt_1", "PATCH", "tenants"),
        ("/api/v1/workers/available", "GET", "tenants"),
        ("/api/v1/runs", "POST", "tenants"),
        ("/api/v1/traces/summary", "GET", "traces"),
        ("/v1/traces", "POST", "traces"),
        ("/api/v1/cost/dashboard", "GET", "cost-intel"),
        ("/api/v1/audit/tree-head", "GET", "audit-ledger"),
        ("/api/v1/guard/logs/export", "GET", "guard-logs"),
        ("/api/v1/logs/llm-runs", "GET", "guard-logs"),
    ],
)
def test_every_public_prefix_routes_to_its_service(path: str, method: str, service: str) -> None:
    router = load_config(DYNAMIC_YML, environ={}).match(RequestInfo(method=method, path=path))
    assert router is not None and router.service == service


def test_internal_routes_are_never_routed() -> None:
    config = load_config(DYNAMIC_YML, environ={})
    assert config.match(RequestInfo(method="GET", path="/internal/v1/auth/verify")) is None


def test_server_urls_come_from_the_environment_with_local_defaults() -> None:
    default = load_config(DYNAMIC_YML, environ={})
    assert default.services["tenants"].load_balancer.servers[0].url == "http://127.0.0.1:8001"
    assert default.services["guard-logs"].load_balancer.servers[0].url == "http://127.0.0.1:8005"
    moved = load_config(DYNAMIC_YML, environ={"AOS_TENANTS_URL": "http://tenants:9001"})
    assert moved.services["tenants"].load_balancer.servers[0].url == "http://tenants:9001"
    auth = moved.middlewares["auth"].spec
    assert auth.address == "http://tenants:9001/internal/v1/auth/forward"


def test_only_the_run_start_route_is_budget_enforced() -> None:
    config = load_config(DYNAMIC_YML, environ={})
    assert [r.name for r in config.routers if r.budget_enforced] == ["runs-start"]


def test_routers_sort_by_priority_then_rule_length() -> None:
    config = build_config(
        {
            "http": {
                "routers": {
                    "short": {"rule": "PathPrefix(`/a`)", "service": "s"},
                    "long": {"rule": "PathPrefix(`/a/b`)", "service": "s"},
                    "pinned": {"rule": "PathPrefix(`/`)", "service": "s", "priority": 100},
                },
                "services": {"s": {"loadBalancer": {"servers": [{"url": "http://h"}]}}},
            }
        }
    )
    assert [r.name for r in config.routers] == ["pinned", "long", "short"]


def test_unknown_middleware_kind_is_a_startup_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="middleware 'gz': unknown middleware kind 'compress'"):
        build_config(document(gz={"compress": {}}))


def test_unsupported_middleware_option_is_a_startup_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="option 'sslRedirect' is not supported"):
        build_config(document(h={"headers": {"sslRedirect": True}}))


def test_bad_rule_is_a_startup_error_naming_the_router() -> None:
    bad = document()
    bad["http"]["routers"]["r"]["rule"] = "PathPrefix(`/x`) &&& Method(`GET`)"
    with pytest.raises(ConfigError, match="router 'r': bad rule"):
        build_config(bad)


def test_bad_breaker_expression_is_a_startup_error() -> None:
    with pytest.raises(ConfigError, match=r"middleware 'cb'.*unknown function 'Latency'"):
        build_config(document(cb={"circuitBreaker": {"expression": "Latency() > 1"}}))


def test_unknown_references_are_startup_errors() -> None:
    bad = document()
    bad["http"]["routers"]["r"]["middlewares"] = ["missing"]
    with pytest.raises(ConfigError, match="router 'r' references unknown middleware 'missing'"):
        build_config(bad)
    bad = document()
    bad["http"]["routers"]["r"]["service"] = "nowhere"
    with pytest.raises(ConfigError, match="unknown service 'nowhere'"):
        build_config(bad)


def test_chains_expand_in_order_and_at_file_suffix_is_accepted() -> None:
    config = build_config(
        document(
            c={"chain": {"middlewares": ["a@file", "b"]}},
            a={"retry": {"attempts": 2}},
            b={"stripPrefix": {"prefixes": ["/x"]}},
        )
    )
    assert [m.name for m in config.routers[0].middlewares] == ["a", "b", "a", "b"]


def test_chain_cycles_are_refused() -> None:
    with pytest.raises(ConfigError, match="middleware chain cycle"):
        build_config(
            document(c1={"chain": {"middlewares": ["c2"]}}, c2={"chain": {"middlewares": ["c1"]}})
        )


def test_bad_duration_is_refused() -> None:
    with pytest.raises(ConfigError, match="retry 'r1': initial_interval"):
        build_config(document(r1={"retry": {"attempts": 1, "initialInterval": "soon"}}))


def test_unknown_template_actions_are_refused() -> None:
    with pytest.raises(ConfigError, match="unsupported template action"):
        parse_document("http: {routers: {}}\nx: '{{ .Foo }}'", environ={})


def test_tcp_section_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="section 'tcp' is not supported"):
        build_config(yaml.safe_load("http: {}\ntcp: {routers: {}}"))


def test_a_document_without_routers_is_refused() -> None:
    """A truncated file read mid-write parses as an empty document; it must never be served."""
    with pytest.raises(ConfigError, match="no http routers"):
        build_config(yaml.safe_load("") or {})
