"""Log views, evidence bundles and the LLM-run facade: domain logic over the peers, no HTTP.

Every lookup is scoped by the tenant the route resolved from the credential; the peers answer
404 for another tenant's run, which becomes the same "not found or access denied" as a run that
does not exist, so ids of other tenants cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aos_common.errors import NotFound, ServiceUnavailable
from aos_guard_logs.domain.bundle import BundleInputs, build_bundle, bundle_filename
from aos_guard_logs.domain.exporting import log_row
from aos_guard_logs.domain.logids import log_id_for, run_id_candidates
from aos_guard_logs.logs.peers import Peers
from aos_guard_logs.logs.schemas import (
    LlmRunRead,
    LogDetailRead,
    LogFilters,
    LogListRead,
    LogStepRead,
    LogSummaryRead,
    ReplayWindow,
    RunCosts,
)

MAX_ID_LENGTH = 200
AUDIT_ENTRIES_PER_BUNDLE = 1000
FAILED_STEP_STATUSES = frozenset({"failure", "error"})


class LogNotFound(NotFound):
    def __init__(self, log_id: str) -> None:
        super().__init__(f"Log {log_id} not found or access denied")


class RunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"Run {run_id} not found or access denied")


def _steps(trace: Mapping[str, Any]) -> list[dict[str, Any]]:
    return sorted(trace.get("steps") or [], key=lambda step: int(step.get("step_index", 0)))


def _run_id(trace: Mapping[str, Any]) -> str:
    return str(trace.get("run_id") or trace.get("trace_id"))


def _run_header(trace: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a log detail and an LLM-run view both open with, read from the trace."""
    run_id = _run_id(trace)
    fields = ("correlation_id", "agent_id", "status", "started_at", "completed_at")
    return {"log_id": log_id_for(run_id), "run_id": run_id, **{f: trace.get(f) for f in fields}}


class LogsService:
    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    @property
    def peers(self) -> Peers:
        return self._peers

    async def list_logs(
        self, tenant_id: str, filters: LogFilters, *, limit: int, offset: int
    ) -> LogListRead:
        summaries, total = await self._peers.trace_logs(
            tenant_id, filters.as_query(), limit=limit, offset=offset
        )
        return LogListRead(
            items=[LogSummaryRead.model_validate(log_row(summary)) for summary in summaries],
            total=total,
            page=offset // limit + 1,
            page_size=limit,
        )

    async def find_trace(self, tenant_id: str, identifier: str) -> dict[str, Any] | None:
        """The trace a log id (or run id, or trace id) stands for, within the tenant."""
        if len(identifier) > MAX_ID_LENGTH:
            return None
        for candidate in run_id_candidates(identifier):
            trace = await self._peers.trace(tenant_id, candidate)
            if trace is not None:
                return trace
        return None

    async def detail(self, tenant_id: str, log_id: str) -> LogDetailRead:
        trace = await self.find_trace(tenant_id, log_id)
        if trace is None:
            raise LogNotFound(log_id)
        steps = _steps(trace)
        return LogDetailRead(
            **_run_header(trace),
            steps=[LogStepRead.model_validate(step) for step in steps],
            total_steps=len(steps),
            success_count=sum(1 for step in steps if step.get("status") == "success"),
            failure_count=sum(1 for step in steps if step.get("status") in FAILED_STEP_STATUSES),
            total_duration_ms=sum(step.get("duration_ms") or 0 for step in steps),
        )

    async def bundle(self, tenant_id: str, log_id: str, *, generated_at: str) -> tuple[str, bytes]:
        """The evidence bundle of one run: (file name, zip bytes)."""
        trace = await self.find_trace(tenant_id, log_id)
        if trace is None:
            raise LogNotFound(log_id)
        run_id = _run_id(trace)
        trace_id = str(trace.get("trace_id") or run_id)
        integrity = await self._peers.integrity(tenant_id, trace_id)
        audit = await self._audit_evidence(tenant_id, sorted({run_id, trace_id}))
        costs = await self._peers.run_costs(tenant_id, run_id)
        inputs = BundleInputs(
            tenant_id=tenant_id,
            log_id=log_id_for(run_id),
            trace=trace,
            integrity=integrity,
            audit=audit,
            costs=costs,
            generated_at=generated_at,
        )
        return bundle_filename(inputs.log_id), build_bundle(inputs)

    async def _audit_evidence(self, tenant_id: str, entity_ids: Sequence[str]) -> dict[str, Any]:
        """The run's audit entries, all proved against one signed tree head.

        Each query answers with the tree head current at that moment; if an append landed between
        two queries their heads differ, so the queries are repeated until they agree.
        """
        for _attempt in range(3):
            documents = [
                await self._peers.audit_entries(
                    tenant_id, entity_id, limit=AUDIT_ENTRIES_PER_BUNDLE
                )
                for entity_id in entity_ids
            ]
            heads = {_head_key(document.get("tree_head") or {}) for document in documents}
            if len(heads) == 1:
                entries: dict[str, dict[str, Any]] = {}
                for document in documents:
                    for entry in document.get("entries") or []:
                        entries[str(entry.get("id"))] = entry
                return {
                    "tenant_id": tenant_id,
                    "entity_ids": list(entity_ids),
                    "tree_head": documents[-1].get("tree_head"),
                    "entries": sorted(entries.values(), key=lambda entry: int(entry["seq"])),
                }
        raise ServiceUnavailable("Upstream audit-ledger unavailable", headers={"Retry-After": "1"})

    async def llm_runs(
        self, tenant_id: str, filters: LogFilters, *, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        summaries, total = await self._peers.trace_logs(
            tenant_id, filters.as_query(), limit=limit, offset=offset
        )
        return [{**summary, "log_id": log_id_for(_run_id(summary))} for summary in summaries], total

    async def llm_run(self, tenant_id: str, run_id: str) -> LlmRunRead:
        trace = await self.find_trace(tenant_id, run_id)
        if trace is None:
            raise RunNotFound(run_id)
        steps = _steps(trace)
        costs = await self._peers.run_costs(tenant_id, _run_id(trace))
        return LlmRunRead(
            **_run_header(trace),
            trace_id=trace.get("trace_id"),
            steps=steps,
            costs=RunCosts(
                records=list(costs.get("records") or []),
                total_cost_cents=costs.get("total_cost_cents", 0),
            ),
            replay_window=ReplayWindow(
                seed=trace.get("seed"),
                frozen_timestamp=trace.get("frozen_timestamp"),
                replay_mode=trace.get("replay_mode"),
                root_hash=trace.get("root_hash"),
                first_step_index=steps[0]["step_index"] if steps else None,
                last_step_index=steps[-1]["step_index"] if steps else None,
                starts_at=trace.get("started_at"),
                ends_at=trace.get("completed_at"),
            ),
        )


def _head_key(head: Mapping[str, Any]) -> tuple[Any, Any]:
    return head.get("tree_size"), head.get("root_hash")
