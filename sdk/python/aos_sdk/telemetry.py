"""One-line OpenTelemetry setup: spans go to AOS by OTLP/HTTP, off the application's thread.

`configure()` installs a TracerProvider (or joins the one the application already has) with a
span processor built for an agent that must never be slowed down or broken by its telemetry:

- spans wait in a bounded in-memory queue (`max_queue_size`); a worker thread exports them in
  batches. A full queue drops the new span and counts it (`AOSTelemetry.dropped_spans`), so
  memory stays bounded however long the platform is away.
- an export that fails (platform down, network gone) keeps its spans queued and is retried with
  a growing pause (up to `max_backoff` seconds), so spans produced during an outage arrive once
  the platform is back, as long as they fitted in the queue. (OpenTelemetry's own
  BatchSpanProcessor drops a batch whose export failed.)
- nothing raises into the application: a failure inside the processor is logged and counted.
- at interpreter exit the queue gets one last export attempt (bounded by `export_timeout`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

logger = logging.getLogger("aos_sdk.telemetry")
DEFAULT_ENDPOINT = "http://localhost:8080"
TRACES_PATH = "/v1/traces"
_SUPPRESS = context._SUPPRESS_INSTRUMENTATION_KEY  # what OpenTelemetry's own processors set
INHERITED = context.create_key("aos_sdk.inherited_attributes")
"""Context key: attributes every span started below carries (user, session, feature), set by
`observe(user_id=..., session_id=..., feature=...)`."""


class RetainingSpanProcessor(SpanProcessor):
    """Batches spans to `exporter` from a worker thread; keeps them queued while exports fail."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self._exporter = exporter
        self._max_queue = max(max_queue_size, 1)
        self._batch = max(min(max_export_batch_size, self._max_queue), 1)
        self._delay = schedule_delay
        self._max_backoff = max_backoff
        self._queue: deque[ReadableSpan] = deque()
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._warned = False
        self.dropped = 0
        self.exported = 0
        self.failed_exports = 0
        self._thread = self._start_worker()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _start_worker(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, name="aos-span-exporter", daemon=True)
        thread.start()
        return thread

    def _after_fork(self) -> None:
        """A forked child starts with an empty queue and its own worker (the parent's thread
        does not exist there)."""
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._queue.clear()
        if not self._closed:
            self._thread = self._start_worker()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Spans started inside an observed run (an instrumentation's LLM spans too) carry the
        run's user, session and feature."""
        try:
            inherited = context.get_value(INHERITED, parent_context)
            if inherited:
                span.set_attributes(inherited)
        except Exception:
            logger.debug("inherited attributes not set", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if not span.context.trace_flags.sampled:
                return
            with self._lock:
                if self._closed or len(self._queue) >= self._max_queue:
                    self.dropped += 1
                    warn = not self._warned
                    self._warned = True
                else:
                    self._queue.append(span)
                    warn = False
                    if len(self._queue) >= self._batch:
                        self._wake.set()
            if warn:
                logger.warning(
                    "AOS span queue is full (%d spans): new spans are dropped and counted until "
                    "the platform accepts exports again",
                    self._max_queue,
                )
        except Exception:  # telemetry must never break the application
            logger.debug("span not queued", exc_info=True)

    def _work(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            if backoff:
                self._stop.wait(backoff)  # a failing platform is not hammered by size wake-ups
            else:
                self._wake.wait(self._delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._export_queued():
                backoff = 0.0
            else:
                backoff = min(max(backoff * 2, 0.5), self._max_backoff)

    def _export_queued(self) -> bool:
        """Export the spans queued when called, batch by batch; a batch leaves the queue only
        once exported. Spans queued meanwhile wait for the next pass (an exporter whose own
        requests make spans must not keep a flush going forever). False when an export failed
        (its spans stay at the head of the queue)."""
        with self._export_lock:
            left = len(self._queue)
            while left > 0:
                with self._lock:
                    size = min(self._batch, left, len(self._queue))
                    batch = [self._queue[i] for i in range(size)]
                if not batch:
                    return True
                token = context.attach(context.set_value(_SUPPRESS, True))
                try:
                    result = self._exporter.export(batch)
                except Exception:
                    logger.warning("AOS span export raised", exc_info=True)
                    result = SpanExportResult.FAILURE
                finally:
                    context.detach(token)
                if result is not SpanExportResult.SUCCESS:
                    self.failed_exports += 1
                    return False
                with self._lock:
                    for _ in batch:
                        self._queue.popleft()
                self.exported += len(batch)
                left -= len(batch)
            return True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now (the caller waits); False if the platform refused."""
        try:
            return self._export_queued()
        except Exception:
            logger.debug("flush failed", exc_info=True)
            return False

    def shutdown(self) -> None:
        """Stop the worker, make one last attempt at the queue, close the exporter."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.force_flush()
        try:
            self._exporter.shutdown()
        except Exception:
            logger.debug("exporter shutdown failed", exc_info=True)


@dataclass
class AOSTelemetry:
    """What `configure()` set up. `enabled` is False when no API key was found."""

    enabled: bool
    endpoint: str | None = None
    provider: TracerProvider | None = None
    processor: RetainingSpanProcessor | None = field(default=None, repr=False)

    @property
    def dropped_spans(self) -> int:
        """Spans dropped because the queue was full (the platform away for long)."""
        return self.processor.dropped if self.processor else 0

    @property
    def pending_spans(self) -> int:
        return self.processor.pending if self.processor else 0

    @property
    def exported_spans(self) -> int:
        return self.processor.exported if self.processor else 0

    def flush(self) -> bool:
        """Send the queued spans now; True when everything was accepted."""
        return self.processor.force_flush() if self.processor else True

    def shutdown(self) -> None:
        if self.processor is not None:
            self.processor.shutdown()


_current: AOSTelemetry | None = None
_configure_lock = threading.Lock()


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a platform address (the gateway or the traces service)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def configure(
    api_key: str | None = None,
    endpoint: str | None = None,
    *,
    service_name: str | None = None,
    resource_attributes: dict[str, Any] | None = None,
    max_queue_size: int = 2048,
    max_export_batch_size: int = 512,
    schedule_delay: float = 1.0,
    export_timeout: float = 10.0,
    max_backoff: float = 30.0,
    compression: bool = True,
) -> AOSTelemetry:
    """Send this process's OpenTelemetry spans to AOS.

    `api_key` and `endpoint` default to the environment (`AOS_API_KEY`, `AOS_ENDPOINT`; the
    endpoint defaults to a local gateway, http://localhost:8080). Without a key, a warning is
    logged and nothing is exported: the application runs as before. Called again, the previous
    setup is flushed and replaced. If the application already installed an SDK TracerProvider,
    the AOS processor is added to it; otherwise a new provider becomes the global one."""
    global _current
    api_key = api_key or os.environ.get("AOS_API_KEY")
    endpoint = endpoint or os.environ.get("AOS_ENDPOINT") or DEFAULT_ENDPOINT
    if not api_key:
        logger.warning("aos_sdk.configure: no API key (argument or AOS_API_KEY); not exporting")
        return AOSTelemetry(enabled=False)
    with _configure_lock:
        if _current is not None:
            _current.shutdown()
        exporter = OTLPSpanExporter(
            endpoint=traces_url(endpoint),
            headers={"X-AOS-Key": api_key},
            timeout=export_timeout,
            compression=Compression.Gzip if compression else Compression.NoCompression,
        )
        processor = RetainingSpanProcessor(
            exporter,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay=schedule_delay,
            max_backoff=max_backoff,
        )
        provider = _provider(service_name, resource_attributes)
        provider.add_span_processor(processor)
        _current = AOSTelemetry(True, traces_url(endpoint), provider, processor)
        return _current


def _provider(service_name: str | None, attributes: dict[str, Any] | None) -> TracerProvider:
    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        return existing
    resource = Resource.create(
        {**({"service.name": service_name} if service_name else {}), **(attributes or {})}
    )
    provider = TracerProvider(resource=resource)
    trace.set_tracer_provider(provider)
    return provider


def current() -> AOSTelemetry | None:
    """The setup of the last `configure()` call, if any."""
    return _current


@atexit.register
def _flush_at_exit() -> None:
    if _current is not None:
        _current.shutdown()
