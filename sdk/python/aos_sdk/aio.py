"""Asynchronous client: the same surface as AOSClient with `await` / `async with`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

from aos_sdk import _api
from aos_sdk._http import Attempts, Call, decode
from aos_sdk.client import DEFAULT_BASE_URL, _ClientConfig
from aos_sdk.errors import ConflictError
from aos_sdk.recording import RunRecord
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

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAOSClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send(self, call: Call) -> Any:
        attempts = Attempts(self.retry, call)
        while True:
            try:
                response = await self._http.request(**self.request_arguments(call))
            except httpx.TransportError as exc:
                await self._sleep(attempts.after_transport_error(exc))
                continue
            if response.is_success:
                return decode(response)
            await self._sleep(attempts.after_failure(response))

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        return await self.send(self.any_call(method, path, json, params, idempotency_key))

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
        body = _api.run_completion(status, totals)
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
        return AsyncRun(self, self.run_record(worker_id, task, run_id, seed, metadata, plan))

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
        for call in _api.cost_batches(records):
            results.extend(_api.batch_items(await self.send(call)))
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


class AsyncCostBatcher(_api.PendingCosts):
    """CostBatcher for AsyncAOSClient."""

    def __init__(self, client: AsyncAOSClient, batch_size: int = 100) -> None:
        super().__init__(batch_size)
        self._client = client

    async def add(self, model: str, **fields: Any) -> None:
        if self.queue(model, fields):
            await self.flush()

    async def flush(self) -> None:
        while (call := self.next_call()) is not None:
            self.sent(await self._client.send(call))

    async def __aenter__(self) -> AsyncCostBatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.flush()
