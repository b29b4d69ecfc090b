"""Runs: the control point for run quotas.

A start is admitted by one conditional UPDATE on the tenant row (daily count, concurrency, status);
the run row is inserted in the same transaction, so a refused or failed insert gives the slot back
by rolling back. Completion flips `running` to a final status with a conditional UPDATE and only
then releases the slot and meters tokens: it happens at most once per run.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common import domain_metrics
from aos_common.auth import Principal
from aos_common.envelope import utc_now
from aos_common.errors import Conflict, Forbidden, NotFound, PaymentRequired, TooManyRequests
from aos_common.ids import new_id
from aos_tenants.domain.quotas import (
    QuotaDecision,
    budget_reason,
    concurrent_limit_reason,
    daily_limit_reason,
)
from aos_tenants.runs import repository
from aos_tenants.runs.budget import CostGuard
from aos_tenants.runs.repository import RunRecord, StartContext
from aos_tenants.runs.schemas import TASK_PREVIEW_CHARS, RunCreate, RunCreated, RunRead, RunUpdate
from aos_tenants.tenants import repository as tenants_repository
from aos_tenants.tenants import service as tenants_service
from aos_tenants.workers.service import worker_enabled

RUN_NOT_FOUND = "Run not found"
SOURCE = "tenants.runs"


def to_read(record: RunRecord) -> RunRead:
    return RunRead(
        id=record.id,
        worker_id=record.worker_id,
        task=record.task[:TASK_PREVIEW_CHARS],
        status=record.status,  # type: ignore[arg-type]
        success=None if record.status == "running" else record.status == "succeeded",
        total_tokens=record.total_tokens,
        total_latency_ms=record.total_latency_ms,
        cost_cents=float(record.cost_cents) if record.cost_cents is not None else None,
        created_at=record.created_at,
        completed_at=record.completed_at,
    )


def _seconds_to_utc_midnight(now: datetime) -> int:
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
    return max(1, int((midnight - now).total_seconds()))


def _refuse(decision: QuotaDecision) -> TooManyRequests:
    assert decision.reason is not None
    headers = {}
    if decision.reason == daily_limit_reason(decision.limit):
        headers["Retry-After"] = str(_seconds_to_utc_midnight(utc_now()))
    return TooManyRequests(
        decision.reason,
        headers=headers,
        extra={
            "quota_name": decision.quota_name,
            "current": decision.current,
            "limit": decision.limit,
        },
    )


def _check_access(context: StartContext, principal: Principal, worker_id: str) -> None:
    """The worker must be enabled for the tenant, and allowed for the calling key."""
    if context.worker_known and not worker_enabled(context.worker_public, context.config_enabled):
        raise Forbidden(f"Worker {worker_id} is not enabled for this tenant")
    allowed = context.key_allowed_workers
    if allowed is not None and worker_id not in allowed:
        raise Forbidden(f"API key is not allowed to run worker {worker_id}")


async def start_run(
    session: AsyncSession,
    tenant_id: str,
    body: RunCreate,
    *,
    principal: Principal,
    cost_guard: CostGuard,
) -> RunCreated:
    key_id = principal.key_id if principal.tenant_id == tenant_id else None
    context = await repository.start_context(session, tenant_id, body.worker_id, key_id)
    if context is None:
        raise NotFound(tenants_service.TENANT_NOT_FOUND)
    _check_access(context, principal, body.worker_id)
    # Cheap pre-check first, so a tenant over its own limits never waits on cost-intel.
    decision = tenants_service.run_quota_of(context.tenant)
    if not decision.allowed:
        raise _refuse(decision)
    budget_id = await cost_guard.exhausted_budget(tenant_id, api_key_id=key_id)
    if budget_id is not None:
        domain_metrics.BUDGET_REFUSALS.labels("tenants", "run_start").inc()
        raise PaymentRequired(budget_reason(budget_id))
    now = utc_now()
    claimed = await tenants_repository.claim_run_slot(session, tenant_id, now.date())
    if claimed is None:
        decision = await tenants_service.run_quota_for(session, tenant_id)
        if decision.allowed:  # a slot freed up between the refusal and this read
            decision = QuotaDecision(
                False,
                concurrent_limit_reason(decision.limit),
                decision.quota_name,
                decision.current,
                decision.limit,
            )
        raise _refuse(decision)
    # The tenant row stays locked until commit, so these counts cannot race other starts.
    key_limit = context.key_max_concurrent_runs
    if key_limit is not None and key_id is not None:
        if await repository.count_running_for_key(session, tenant_id, key_id) >= key_limit:
            raise TooManyRequests(concurrent_limit_reason(key_limit))
    worker_limit = context.config_max_runs_per_day
    if worker_limit is not None:
        midnight = datetime.combine(now.date(), time(), tzinfo=UTC)
        started = await repository.count_worker_runs_since(
            session, tenant_id, body.worker_id, midnight
        )
        if started >= worker_limit:
            raise TooManyRequests(f"{daily_limit_reason(worker_limit)} for worker {body.worker_id}")
    run_id = body.run_id or new_id("run_")
    record = await repository.insert_run(
        session,
        {
            "tenant_id": tenant_id,
            "id": run_id,
            "worker_id": body.worker_id,
            "task": body.task,
            "status": "running",
            "key_id": key_id,
            "principal_id": principal.principal_id,
        },
        usage_source=SOURCE,
    )
    if record is None:
        raise Conflict(f"Run {run_id} already exists")
    return RunCreated(
        id=record.id,
        worker_id=record.worker_id,
        task=record.task,
        status="running",
        created_at=record.created_at,
    )


async def complete_run(
    session: AsyncSession, tenant_id: str, run_id: str, body: RunUpdate
) -> RunRead:
    values: dict[str, object] = {"status": body.status}
    if body.total_tokens is not None:
        values["total_tokens"] = body.total_tokens
    if body.total_latency_ms is not None:
        values["total_latency_ms"] = body.total_latency_ms
    if body.cost_cents is not None:
        values["cost_cents"] = Decimal(str(body.cost_cents))
    record = await repository.complete_run(
        session, tenant_id, run_id, values, today=utc_now().date(), usage_source=SOURCE
    )
    if record is None:
        existing = await repository.get_run(session, tenant_id, run_id)
        if existing is None:
            raise NotFound(RUN_NOT_FOUND)
        raise Conflict(f"Run {run_id} is already {existing.status}")
    return to_read(record)


async def get_run(session: AsyncSession, tenant_id: str, run_id: str) -> RunRead:
    record = await repository.get_run(session, tenant_id, run_id)
    if record is None:
        raise NotFound(RUN_NOT_FOUND)
    return to_read(record)


async def list_runs(
    session: AsyncSession,
    tenant_id: str,
    *,
    limit: int,
    offset: int,
    status: str | None,
    worker_id: str | None,
) -> list[RunRead]:
    records = await repository.list_runs(
        session, tenant_id, limit=limit, offset=offset, status=status, worker_id=worker_id
    )
    return [to_read(record) for record in records]
