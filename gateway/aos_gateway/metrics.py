"""Gateway metrics, registered in the app's aos_common `Metrics` registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "aos_gateway_requests_total",
            "Requests proxied, by router, service and status",
            ["router", "service", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "aos_gateway_request_duration_seconds",
            "Time from request to response head, by router",
            ["router", "service"],
            registry=registry,
            buckets=(
                0.0005,
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
            ),
        )
        self.upstream_up = Gauge(
            "aos_gateway_upstream_up",
            "1 when a server is in rotation (healthy and not ejected)",
            ["service", "server"],
            registry=registry,
        )
        self.breaker_open = Gauge(
            "aos_gateway_circuit_open",
            "Tenants whose circuit on a router is tripped or recovering",
            ["router", "middleware"],
            registry=registry,
        )
        self.reloads = Counter(
            "aos_gateway_config_reloads_total",
            "Configuration reloads, by result",
            ["result"],
            registry=registry,
        )
        self.fail_open = Counter(
            "aos_gateway_fail_open_total",
            "Decisions let through because a dependency could not answer",
            ["dependency"],
            registry=registry,
        )
