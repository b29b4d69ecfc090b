"""Synchronous client: runs with steps and locally hashed traces, costs, batching, retries."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from aos_sdk import _api
from aos_sdk._http import Attempts, Call, RetryPolicy, build_headers, decode, service_url
from aos_sdk.errors import ConflictError
from aos_sdk.recording import RunRecord, new_run_id
from aos_sdk.reservations import Cents, Reservation, reserve_call
from aos_sdk.runs import RunFinalizer
from aos_sdk.steps import StepContext
from aos_sdk.types import (
    BatchItem,
    CostRecorded,
    RunInfo,
    Tenant,
    Trace,
    TraceStored,
    batch_items,
)

DEFAULT_BASE_URL = "http://localhost:8080"


class _ClientConfig:
    """Constructor arguments shared by AOSClient and AsyncAOSClient."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        services: Mapping[str, str] | None = None,
        tenant_id: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 60.0,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.services = dict(services or {})
        self.tenant_id = tenant_id
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries, backoff_base, backoff_max, max_retry_after)

    def url(self, path: str) -> str:
        return service_url(self.base_url, self.services, path) + path

    def request_arguments(self, call: Call) -> dict[str, Any]:
        """What httpx's request() takes for one attempt of `call` (both clients send this)."""
        return {
            "method": call.method,
            "url": self.url(call.path),
            "json": call.json,
            "params": call.params,
            "headers": build_headers(self.api_key, call),
        }

    @classmethod
    def from_credentials(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Self:
        """A client for the admin key and gateway that `aos up` wrote to its credentials file."""
        creds = cls.credentials(path)
        return cls(
            creds["admin_key"],
            creds.get("gateway_url") or DEFAULT_BASE_URL,
            tenant_id=creds.get("tenant_id"),
            **kwargs,
        )

    @staticmethod
    def any_call(
        method: str,
        path: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Call:
        """A call to any route; non-GET calls get an Idempotency-Key (fresh unless given)."""
        method = method.upper()
        if method in ("GET", "HEAD", "DELETE"):
            return Call(method, path, json=json, params=params)
        return Call.write(method, path, json, params=params, idempotency_key=idempotency_key)

    @staticmethod
    def run_record(
        worker_id: str,
        task: str,
        run_id: str | None,
        seed: int,
        metadata: Mapping[str, Any] | None,
        plan: list[Any] | None,
    ) -> RunRecord:
        return RunRecord(
            worker_id=worker_id,
            task=task,
            run_id=run_id or new_run_id(),
            seed=seed,
            metadata=dict(metadata or {}),
            plan=list(plan or []),
        )

    @staticmethod
    def credentials(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Read `.aos/credentials.json` as written by `aos up` (gateway URL, keys, service URLs)."""
        file = (
            Path(path)
            if path
            else Path(os.environ.get("AOS_DATA_DIR", ".aos")) / "credentials.json"
        )
        data: dict[str, Any] = json.loads(file.read_text())
        return data


class AOSClient(_ClientConfig):
    """Talks to the gateway (`base_url`) or, with `services={"traces": url, ...}`, straight to
    each service. Every write carries an Idempotency-Key that is reused on its retries."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, base_url, **kwargs)
        self._http = httpx.Client(transport=transport, timeout=self.timeout)
        self._sleep: Callable[[float], None] = time.sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AOSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def send(self, call: Call) -> Any:
        """Send one logical call, retrying per the policy; the payload or a typed AOSError."""
        attempts = Attempts(self.retry, call)
        while True:
            try:
                response = self._http.request(**self.request_arguments(call))
            except httpx.TransportError as exc:
                self._sleep(attempts.after_transport_error(exc))
                continue
            if response.is_success:
                return decode(response)
            self._sleep(attempts.after_failure(response))

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any route; non-GET calls get an Idempotency-Key (fresh unless given)."""
        return self.send(self.any_call(method, path, json, params, idempotency_key))

    # -- tenants and runs --------------------------------------------------------------------

    def tenant(self) -> Tenant:
        return Tenant.from_json(self.send(_api.tenant()))

    def resolve_tenant_id(self) -> str:
        """The caller's tenant id (needed by the hash), fetched once from GET /api/v1/tenant."""
        if self.tenant_id is None:
            self.tenant_id = self.tenant().id
        return self.tenant_id

    def start_run(self, worker_id: str, task: str, run_id: str | None = None) -> RunInfo:
        return RunInfo.from_json(self.send(_api.start_run(worker_id, task, run_id)))

    def complete_run(self, run_id: str, status: str, **totals: Any) -> RunInfo:
        """PATCH the run. A 409 because the run already has this very status means an earlier
        attempt whose answer was lost did land (the route takes no idempotency key): that is
        success, not a conflict."""
        try:
            result = self.send(_api.complete_run(run_id, _api.run_completion(status, totals)))
        except ConflictError:
            current = RunInfo.from_json(self.send(_api.get_run(run_id)))
            if current.status != status:
                raise
            return current
        return RunInfo.from_json(result)

    def run(
        self,
        worker_id: str,
        task: str,
        *,
        run_id: str | None = None,
        seed: int = 42,
        metadata: Mapping[str, Any] | None = None,
        plan: list[Any] | None = None,
    ) -> Run:
        return Run(self, self.run_record(worker_id, task, run_id, seed, metadata, plan))

    # -- traces ------------------------------------------------------------------------------

    def post_trace(self, trace: Mapping[str, Any], *, overwrite: bool = False) -> TraceStored:
        return TraceStored.from_json(self.send(_api.post_trace(trace, overwrite)))

    def get_trace(self, run_or_trace_id: str) -> Trace:
        return Trace.from_json(self.send(_api.get_trace(run_or_trace_id)))

    def post_traces_batch(self, traces: Iterable[Mapping[str, Any]]) -> list[BatchItem]:
        """Bulk ingest, split into calls within the server's limits; per-item results in order."""
        results: list[Any] = []
        for call in _api.trace_batches(traces):
            results.extend(_api.batch_items(self.send(call)))
        return batch_items(results)

    # -- costs -------------------------------------------------------------------------------

    def record_cost(self, model: str, **fields: Any) -> CostRecorded:
        return CostRecorded.from_json(self.send(_api.cost_record({"model": model, **fields})))

    def record_costs_batch(self, records: list[Mapping[str, Any]]) -> list[BatchItem]:
        results: list[Any] = []
        for call in _api.cost_batches(records):
            results.extend(_api.batch_items(self.send(call)))
        return batch_items(results)

    def cost_batcher(self, batch_size: int = 100) -> CostBatcher:
        return CostBatcher(self, batch_size)

    # -- budget reservations -----------------------------------------------------------------

    def reserve(
        self,
        estimated_cost_cents: Cents,
        *,
        feature: str | None = None,
        user_id: str | None = None,
        model: str | None = None,
        run_id: str | None = None,
        ttl_seconds: int | None = None,
    ) -> Reservation:
        """Hold the estimate on every applicable hard budget (aos_sdk.reservations)."""
        return Reservation(
            self,
            reserve_call(
                estimated_cost_cents,
                feature=feature,
                user_id=user_id,
                model=model,
                run_id=run_id,
                ttl_seconds=ttl_seconds,
            ),
        )


class Run(RunFinalizer):
    """`with client.run(worker_id, task) as run:` starts the run (quota-checked) on entry; on exit
    posts the trace with the local root hash and completes the run with its status and totals."""

    def __init__(self, client: AOSClient, record: RunRecord) -> None:
        super().__init__(record)
        self._client = client

    def __enter__(self) -> Run:
        self.record.tenant_id = self._client.resolve_tenant_id()
        self.record.start()
        self.record.server_run = self._client.start_run(
            self.record.worker_id, self.record.task, self.record.run_id
        )
        self.record.run_id = self.record.server_run.id or self.record.run_id
        return self

    def step(self, skill: str, params: Any = None, **kw: Any) -> StepContext:
        return StepContext(self.record.new_step(skill, params, **kw))

    def record_cost(self, model: str, **fields: Any) -> CostRecorded:
        """A cost record attributed to this run (workflow_id = run id)."""
        fields.setdefault("workflow_id", self.id)
        return self._client.record_cost(model, **fields)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.record.finish(exc, aborted=exc is not None and not isinstance(exc, Exception))
        try:
            self.accept_trace_result(self._client.post_trace(self.record.trace_document()).raw)
        except Exception as err:
            self.finalize_errors.append(err)
        try:
            self._client.complete_run(self.id, **self.record.completion())
        except Exception as err:
            self.finalize_errors.append(err)
        self.raise_finalize_errors(exc)


class CostBatcher(_api.PendingCosts):
    """Collects cost records and sends them in batches of `batch_size` (and the rest on exit)."""

    def __init__(self, client: AOSClient, batch_size: int = 100) -> None:
        super().__init__(batch_size)
        self._client = client

    def add(self, model: str, **fields: Any) -> None:
        if self.queue(model, fields):
            self.flush()

    def flush(self) -> None:
        """Send what is pending. A batch that failed is resent first, with its original key."""
        while (call := self.next_call()) is not None:
            self.sent(self._client.send(call))

    def __enter__(self) -> CostBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
