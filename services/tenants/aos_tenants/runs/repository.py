"""All SQL on runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Numeric,
    String,
    bindparam,
    case,
    func,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_tenants.models import ApiKey, Run, Tenant, TenantWorkerConfig, UsageRecord, Worker
from aos_tenants.tenants.repository import TENANT_COLUMNS, TenantRecord, tenant_record


@dataclass(frozen=True)
class RunRecord:
    id: str
    tenant_id: str
    worker_id: str
    task: str
    status: str
    key_id: str | None
    principal_id: str
    total_tokens: int | None
    total_latency_ms: int | None
    cost_cents: Decimal | None
    created_at: datetime
    completed_at: datetime | None


_COLUMNS = [getattr(Run, name) for name in RunRecord.__dataclass_fields__]


def _record(row: Any) -> RunRecord:
    return RunRecord(**{name: getattr(row, name) for name in RunRecord.__dataclass_fields__})


@dataclass(frozen=True)
class StartContext:
    """Everything a run start checks before claiming a slot, read in one round trip."""

    tenant: TenantRecord
    worker_known: bool
    worker_public: bool
    config_enabled: bool | None
    config_max_runs_per_day: int | None
    key_allowed_workers: list[str] | None
    key_max_concurrent_runs: int | None


def _start_context_statement() -> Any:
    worker_id = bindparam("p_worker_id", type_=String)
    key_id = bindparam("p_key_id", type_=String)
    return tenant_scoped(
        select(
            *TENANT_COLUMNS,
            Worker.id.label("worker_found"),
            Worker.is_public.label("worker_public"),
            TenantWorkerConfig.enabled.label("config_enabled"),
            TenantWorkerConfig.max_runs_per_day.label("config_max_runs_per_day"),
            ApiKey.allowed_workers.label("key_allowed_workers"),
            ApiKey.max_concurrent_runs.label("key_max_concurrent_runs"),
        )
        .select_from(Tenant)
        .outerjoin(Worker, Worker.id == worker_id)
        .outerjoin(
            TenantWorkerConfig,
            (TenantWorkerConfig.tenant_id == Tenant.id)
            & (TenantWorkerConfig.worker_id == worker_id),
        )
        .outerjoin(ApiKey, (ApiKey.tenant_id == Tenant.id) & (ApiKey.id == key_id)),
        Tenant.id,
        bindparam("p_tenant_id"),
    )


async def start_context(
    session: AsyncSession, tenant_id: str, worker_id: str, key_id: str | None
) -> StartContext | None:
    """The tenant row with the worker, the tenant's config for it and the calling key, joined."""
    parameters = {"p_tenant_id": tenant_id, "p_worker_id": worker_id, "p_key_id": key_id}
    row = (await session.execute(_START_CONTEXT, parameters)).one_or_none()
    if row is None:
        return None
    return StartContext(
        tenant=tenant_record(row),
        worker_known=row.worker_found is not None,
        worker_public=bool(row.worker_public),
        config_enabled=row.config_enabled,
        config_max_runs_per_day=row.config_max_runs_per_day,
        key_allowed_workers=row.key_allowed_workers,
        key_max_concurrent_runs=row.key_max_concurrent_runs,
    )


def _meter_rows(source: Any, meters: list[str]) -> Any:
    """An INSERT of usage rows for the run row of `source`: one per meter whose bound
    quantity (`p_<meter>_quantity`) is positive, all with the bound `p_usage_source`.
    Bound names carry a `p_` prefix so that none can be mistaken for a column to SET."""
    selects = [
        select(
            source.c.tenant_id,
            literal(meter),
            bindparam(f"p_{meter}_quantity", type_=Numeric(20, 4)),
            literal(unit),
            bindparam("p_usage_source"),
            source.c.id,
        ).where(bindparam(f"p_{meter}_quantity", type_=Numeric(20, 4)) > 0)
        for meter, unit in ((meter, METER_UNITS[meter]) for meter in meters)
    ]
    rows = union_all(*selects) if len(selects) > 1 else selects[0]
    return insert(UsageRecord).from_select(
        ["tenant_id", "meter", "quantity", "unit", "source", "run_id"], rows
    )


METER_UNITS = {"runs": "runs", "tokens": "tokens", "cost_cents": "cents"}
_INSERT_FIELDS = ("tenant_id", "id", "worker_id", "task", "status", "key_id", "principal_id")


def _insert_statement() -> Any:
    inserted = (
        insert(Run)
        .values({name: bindparam(f"p_{name}") for name in _INSERT_FIELDS})
        .on_conflict_do_nothing(index_elements=[Run.tenant_id, Run.id])
        .returning(*_COLUMNS)
        .cte("inserted")
    )
    return select(inserted).add_cte(_meter_rows(inserted, ["runs"]).cte("metered"))


def _complete_statement() -> Any:
    """Complete + release + meter, every part hanging off the conditional UPDATE of the run."""
    done = (
        tenant_scoped(update(Run), Run.tenant_id, bindparam("p_tenant_id"))
        .where(Run.id == bindparam("p_run_id"), Run.status == "running")
        .values(
            status=bindparam("p_status"),
            total_tokens=func.coalesce(
                bindparam("p_total_tokens", type_=BigInteger), Run.total_tokens
            ),
            total_latency_ms=func.coalesce(
                bindparam("p_total_latency_ms", type_=BigInteger), Run.total_latency_ms
            ),
            cost_cents=func.coalesce(
                bindparam("p_cost_cents", type_=Numeric(18, 4)), Run.cost_cents
            ),
            completed_at=func.now(),
        )
        .returning(*_COLUMNS)
        .cte("done")
    )
    month = bindparam("p_month", type_=Date)
    tokens_month = case((Tenant.tokens_month == month, Tenant.tokens_this_month), else_=0)
    released = (
        tenant_scoped(update(Tenant), Tenant.id, bindparam("p_tenant_id"))
        .where(Tenant.id == done.c.tenant_id)
        .values(
            running_runs=func.greatest(Tenant.running_runs - 1, 0),
            tokens_this_month=tokens_month + bindparam("p_tokens_quantity", type_=BigInteger),
            tokens_month=month,
        )
        .returning(Tenant.id)
        .cte("released")
    )
    metered = _meter_rows(done, ["tokens", "cost_cents"]).cte("metered")
    return select(done).add_cte(released).add_cte(metered)


# Built once: these run on every run start and completion.
_START_CONTEXT = _start_context_statement()
_INSERT = _insert_statement()
_COMPLETE = _complete_statement()


async def insert_run(
    session: AsyncSession, values: dict[str, Any], *, usage_source: str
) -> RunRecord | None:
    """Insert a run and its `runs` usage record in one statement; None if the id is taken."""
    parameters = {f"p_{name}": values.get(name) for name in _INSERT_FIELDS}
    parameters.update(p_runs_quantity=Decimal(1), p_usage_source=usage_source)
    row = (await session.execute(_INSERT, parameters)).one_or_none()
    return _record(row) if row is not None else None


async def complete_run(
    session: AsyncSession,
    tenant_id: str,
    run_id: str,
    values: dict[str, Any],
    *,
    today: date,
    usage_source: str,
) -> RunRecord | None:
    """Complete a running run, release its slot and meter it, all in one statement.

    When the run was not running the UPDATE matches nothing, so nothing is released or metered:
    a completion takes effect exactly once.
    """
    tokens = int(values.get("total_tokens") or 0)
    parameters = {
        "p_tenant_id": tenant_id,
        "p_run_id": run_id,
        "p_status": values["status"],
        "p_total_tokens": values.get("total_tokens"),
        "p_total_latency_ms": values.get("total_latency_ms"),
        "p_cost_cents": values.get("cost_cents"),
        "p_month": today.replace(day=1),
        "p_tokens_quantity": tokens,
        "p_cost_cents_quantity": Decimal(values.get("cost_cents") or 0),
        "p_usage_source": usage_source,
    }
    row = (await session.execute(_COMPLETE, parameters)).one_or_none()
    return _record(row) if row is not None else None


async def get_run(session: AsyncSession, tenant_id: str, run_id: str) -> RunRecord | None:
    statement = tenant_scoped(select(*_COLUMNS), Run.tenant_id, tenant_id).where(Run.id == run_id)
    row = (await session.execute(statement)).one_or_none()
    return _record(row) if row is not None else None


async def list_runs(
    session: AsyncSession,
    tenant_id: str,
    *,
    limit: int,
    offset: int,
    status: str | None,
    worker_id: str | None,
) -> list[RunRecord]:
    statement = tenant_scoped(select(*_COLUMNS), Run.tenant_id, tenant_id)
    if status is not None:
        statement = statement.where(Run.status == status)
    if worker_id is not None:
        statement = statement.where(Run.worker_id == worker_id)
    statement = statement.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit).offset(offset)
    return [_record(row) for row in await session.execute(statement)]


async def count_running_for_key(session: AsyncSession, tenant_id: str, key_id: str) -> int:
    statement = tenant_scoped(select(func.count()), Run.tenant_id, tenant_id).where(
        Run.key_id == key_id, Run.status == "running"
    )
    return int(await session.scalar(statement) or 0)


async def count_worker_runs_since(
    session: AsyncSession, tenant_id: str, worker_id: str, since: datetime
) -> int:
    statement = tenant_scoped(select(func.count()), Run.tenant_id, tenant_id).where(
        Run.worker_id == worker_id, Run.created_at >= since
    )
    return int(await session.scalar(statement) or 0)
