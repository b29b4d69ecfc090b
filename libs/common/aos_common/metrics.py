"""Prometheus metrics: request rate and latency per route template, in a per-app registry.

Gauges that need a query (the outbox backlog) register a refresher, awaited when /metrics is
read, so the figure is as of the scrape and costs nothing between scrapes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aos_common import domain_metrics
from aos_common.state import service_state


class Metrics:
    def __init__(self, service_name: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aos_http_requests_total",
            "HTTP requests served",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aos_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.outbox_pending = Gauge(
            "aos_outbox_pending_messages",
            "Outbox messages not yet delivered",
            ["service", "destination"],
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "aos_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered outbox message (0 when none)",
            ["service", "destination"],
            registry=self.registry,
        )
        self.outbox_messages = Counter(
            "aos_outbox_messages_total",
            "Outbox delivery attempts by outcome (delivered, refused, retry)",
            ["service", "destination", "outcome"],
            registry=self.registry,
        )
        self.service_name = service_name
        self.refreshers: list[Callable[[], Awaitable[None]]] = []

    async def refresh(self) -> None:
        """Run every refresher; one failing (its database down) leaves its last values."""
        for refresher in self.refreshers:
            try:
                await refresher()
            except Exception:
                logging.getLogger("aos.metrics").warning("metrics refresh failed", exc_info=True)

    def render(self) -> Response:
        body = generate_latest(self.registry) + domain_metrics.render()
        return Response(body, media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Labelled children, looked up once per label set: `labels()` costs more than the
        # observation itself. As many entries as the metrics have label sets, no more.
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            latency = self._latency.get((method, template))
            if latency is None:
                latency = self.metrics.latency.labels(self.metrics.service_name, method, template)
                self._latency[(method, template)] = latency
            latency.observe(elapsed)
            counter = self._requests.get((method, template, status))
            if counter is None:
                counter = self.metrics.requests.labels(
                    self.metrics.service_name, method, template, str(status)
                )
                self._requests[(method, template, status)] = counter
            counter.inc()


async def metrics_endpoint(request: Request) -> Response:
    metrics = service_state(request.app).metrics
    await metrics.refresh()
    return metrics.render()
