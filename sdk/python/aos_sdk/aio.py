"""Asynchronous client: the same surface as AOSClient with `await` / `async with`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

from aos_sdk import _api
from aos_sdk._http import (
    Call,
    build_headers,
    connection_error,
    decode,
    error_from_response,
    retry_delay,
    transport_retry_delay,
)
from aos_sdk.client import DEFAULT_BASE_URL, _ClientConfig
from aos_sdk.errors import ConflictError
from aos_sdk.recording import RunRecord, new_run_id
from aos_sdk.reservations import AsyncReservation, Cents, reserve_call
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


class AsyncAOSClient(_ClientConfig):
    """Async twin of AOSClient (httpx.AsyncClient; accepts httpx.ASGITransport for tests)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, base_url, **kwargs)
        self._http = httpx.AsyncClient(transport=transport, timeout=self.timeout)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def from_credentials(
        cls, path: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> AsyncAOSClient:
        creds = cls.credentials(path)
        return cls(
            creds["admin_key"],
            creds.get("gateway_url") or DEFAULT_BASE_URL,
            tenant_id=creds.get("tenant_id"),
            **kwargs,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAOSClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
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
                await self._sleep(delay)
                attempt += 1
                continue
            if response.is_success:
                return decode(response)
            delay = retry_delay(self.retry, call, response, attempt)
            if delay is None:
                raise error_from_response(response, call)
            await self._sleep(delay)
            attempt += 1

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        if method.upper() in ("GET", "HEAD", "DELETE"):
            return await self.send(Call(method.upper(), path, json=json, params=params))
        call = Call.write(
            method.upper(), path, json, params=params, idempotency_key=idempotency_key
        )
        return await self.send(call)

    async def tenant(self) -> Tenant:
        return Tenant.from_json(await self.send(_api.tenant()))

    async def resolve_tenant_id(self) -> str:
        if self.tenant_id is None:
            self.tenant_id = (await self.tenant()).id
        return self.tenant_id

    async def start_run(self, worker_id: str, task: str, run_id: str | None = None) -> RunInfo:
        return RunInfo.from_json(await self.send(_api.start_run(worker_id, task, run_id)))

    async def complete_run(self, run_id: str, status: str, **totals: Any) -> RunInfo:
        """PATCH the run. A 409 because the run already has this very status means an earlier
        attempt whose answer was lost did land (the route takes no idempotency key): that is
        success, not a conflict."""
        body = {"status": status, **{k: v for k, v in totals.items() if v is not None}}
        try:
            result = await self.send(_api.complete_run(run_id, body))
        except ConflictError:
            current = RunInfo.from_json(await self.send(_api.get_run(run_id)))
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
    ) -> AsyncRun:
        record = RunRecord(
            worker_id=worker_id,
            task=task,
            run_id=run_id or new_run_id(),
            seed=seed,
            metadata=dict(metadata or {}),
            plan=list(plan or []),
        )
        return AsyncRun(self, record)

    async def post_trace(self, trace: Mapping[str, Any], *, overwrite: bool = False) -> TraceStored:
        return TraceStored.from_json(await self.send(_api.post_trace(trace, overwrite)))

    async def get_trace(self, run_or_trace_id: str) -> Trace:
        return Trace.from_json(await self.send(_api.get_trace(run_or_trace_id)))

    async def post_traces_batch(self, traces: Iterable[Mapping[str, Any]]) -> list[BatchItem]:
        results: list[Any] = []
        for call in _api.trace_batches(traces):
            results.extend(_api.batch_items(await self.send(call)))
        return batch_items(results)

    async def record_cost(self, model: str, **fields: Any) -> CostRecorded:
        return CostRecorded.from_json(await self.send(_api.cost_record({"model": model, **fields})))

    async def record_costs_batch(self, records: list[Mapping[str, Any]]) -> list[BatchItem]:
        results: list[Any] = []
        cleaned = [_api.clean_cost(r) for r in records]
        for i in range(0, len(cleaned), _api.MAX_COSTS_PER_BATCH):
            chunk = cleaned[i : i + _api.MAX_COSTS_PER_BATCH]
            results.extend(_api.batch_items(await self.send(_api.cost_batch(chunk))))
        return batch_items(results)

    def cost_batcher(self, batch_size: int = 100) -> AsyncCostBatcher:
        return AsyncCostBatcher(self, batch_size)

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
    ) -> AsyncReservation:
        """Hold the estimate on every applicable hard budget (aos_sdk.reservations)."""
        return AsyncReservation(
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


class AsyncRun(RunFinalizer):
    """`async with client.run(worker_id, task) as run:`; steps use `with` or `async with`."""

    def __init__(self, client: AsyncAOSClient, record: RunRecord) -> None:
        super().__init__(record)
        self._client = client

    async def __aenter__(self) -> AsyncRun:
        self.record.tenant_id = await self._client.resolve_tenant_id()
        self.record.start()
        self.record.server_run = await self._client.start_run(
            self.record.worker_id, self.record.task, self.record.run_id
        )
        self.record.run_id = self.record.server_run.id or self.record.run_id
        return self

    def step(self, skill: str, params: Any = None, **kw: Any) -> StepContext:
        return StepContext(self.record.new_step(skill, params, **kw))

    async def record_cost(self, model: str, **fields: Any) -> CostRecorded:
        fields.setdefault("workflow_id", self.id)
        return await self._client.record_cost(model, **fields)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.record.finish(exc, aborted=exc is not None and not isinstance(exc, Exception))
        try:
            self.accept_trace_result(
                (await self._client.post_trace(self.record.trace_document())).raw
            )
        except Exception as err:
            self.finalize_errors.append(err)
        try:
            await self._client.complete_run(self.id, **self.record.completion())
        except Exception as err:
            self.finalize_errors.append(err)
        self.raise_finalize_errors(exc)


class AsyncCostBatcher:
    def __init__(self, client: AsyncAOSClient, batch_size: int = 100) -> None:
        if not 1 <= batch_size <= _api.MAX_COSTS_PER_BATCH:
            raise ValueError(f"batch_size must be 1..{_api.MAX_COSTS_PER_BATCH}")
        self._client = client
        self.batch_size = batch_size
        self.pending: list[dict[str, Any]] = []
        self.results: list[Any] = []
        self.batches_sent = 0
        self._unsent: Call | None = None

    async def add(self, model: str, **fields: Any) -> None:
        self.pending.append(_api.clean_cost({"model": model, **fields}))
        if len(self.pending) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        while self._unsent is not None or self.pending:
            if self._unsent is None:
                self._unsent = _api.cost_batch(self.pending[: self.batch_size])
                self.pending = self.pending[self.batch_size :]
            result = await self._client.send(self._unsent)
            self._unsent = None
            self.results.extend(_api.batch_items(result))
            self.batches_sent += 1

    async def __aenter__(self) -> AsyncCostBatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.flush()
