"""Synchronous client: runs with steps and locally hashed traces, costs, batching, retries."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from aos_sdk import _api
from aos_sdk._http import (
    Call,
    RetryPolicy,
    build_headers,
    connection_error,
    decode,
    error_from_response,
    retry_delay,
    service_url,
    transport_retry_delay,
)
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

    @classmethod
    def from_credentials(
        cls, path: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> AOSClient:
        creds = cls.credentials(path)
        return cls(
            creds["admin_key"],
            creds.get("gateway_url") or DEFAULT_BASE_URL,
            tenant_id=creds.get("tenant_id"),
            **kwargs,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AOSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def send(self, call: Call) -> Any:
        """Send one logical call, retrying per the policy; the payload or a typed AOSError."""
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method,
                    self.url(call.path),
                    json=call.json,
                    params=call.params,
                    headers=build_headers(self.api_key, call),
                )
            except httpx.TransportError as exc:
                delay = transport_retry_delay(self.retry, call, attempt)
                if delay is None:
                    raise connection_error(exc) from exc
                self._sleep(delay)
                attempt += 1
                continue
            if response.is_success:
                return decode(response)
            delay = retry_delay(self.retry, call, response, attempt)
            if delay is None:
                raise error_from_response(response, call)
            self._sleep(delay)
            attempt += 1

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
        if method.upper() in ("GET", "HEAD", "DELETE"):
            return self.send(Call(method.upper(), path, json=json, params=params))
        call = Call.write(
            method.upper(), path, json, params=params, idempotency_key=idempotency_key
        )
        return self.send(call)

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
        body = {"status": status, **{k: v for k, v in totals.items() if v is not None}}
        try:
            result = self.send(_api.complete_run(run_id, body))
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
        record = RunRecord(
            worker_id=worker_id,
            task=task,
            run_id=run_id or new_run_id(),
            seed=seed,
            metadata=dict(metadata or {}),
            plan=list(plan or []),
        )
        return Run(self, record)

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
        cleaned = [_api.clean_cost(r) for r in records]
        for i in range(0, len(cleaned), _api.MAX_COSTS_PER_BATCH):
            chunk = cleaned[i : i + _api.MAX_COSTS_PER_BATCH]
            results.extend(_api.batch_items(self.send(_api.cost_batch(chunk))))
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


class CostBatcher:
    """Collects cost records and sends them in batches of `batch_size` (and the rest on exit).
    Each batch is one write with its own Idempotency-Key, so a retried batch is stored once."""

    def __init__(self, client: AOSClient, batch_size: int = 100) -> None:
        if not 1 <= batch_size <= _api.MAX_COSTS_PER_BATCH:
            raise ValueError(f"batch_size must be 1..{_api.MAX_COSTS_PER_BATCH}")
        self._client = client
        self.batch_size = batch_size
        self.pending: list[dict[str, Any]] = []
        self.results: list[Any] = []
        self.batches_sent = 0
        self._unsent: Call | None = None

    def add(self, model: str, **fields: Any) -> None:
        self.pending.append(_api.clean_cost({"model": model, **fields}))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Send what is pending. A batch that failed is resent first, with its original key."""
        while self._unsent is not None or self.pending:
            if self._unsent is None:
                self._unsent = _api.cost_batch(self.pending[: self.batch_size])
                self.pending = self.pending[self.batch_size :]
            result = self._client.send(self._unsent)
            self._unsent = None
            self.results.extend(_api.batch_items(result))
            self.batches_sent += 1

    def __enter__(self) -> CostBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
