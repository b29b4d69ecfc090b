"""All SQL on the worker catalogue and tenant worker configs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_tenants.models import TenantWorkerConfig, Worker
from aos_tenants.workers.catalogue import CatalogueWorker


@dataclass(frozen=True)
class WorkerRecord:
    id: str
    name: str
    description: str
    version: str
    status: str
    moats: list[str]
    tokens_per_run_estimate: int
    cost_per_run_cents: int
    is_public: bool
    default_config: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ConfigRecord:
    worker_id: str
    enabled: bool
    config: dict[str, Any]
    brand: dict[str, Any] | None
    max_runs_per_day: int | None
    max_tokens_per_run: int | None


_WORKER_COLUMNS = [getattr(Worker, name) for name in WorkerRecord.__dataclass_fields__]
_CONFIG_COLUMNS = [getattr(TenantWorkerConfig, name) for name in ConfigRecord.__dataclass_fields__]
_CATALOGUE_FIELDS = [name for name in CatalogueWorker.model_fields if name != "id"]


def _worker(row: Any) -> WorkerRecord:
    return WorkerRecord(**{name: getattr(row, name) for name in WorkerRecord.__dataclass_fields__})


def _config(row: Any) -> ConfigRecord:
    return ConfigRecord(**{name: getattr(row, name) for name in ConfigRecord.__dataclass_fields__})


async def load_catalogue(session: AsyncSession, workers: list[CatalogueWorker]) -> None:
    """Upsert the shipped catalogue; `updated_at` moves only for workers that changed."""
    if not workers:
        return
    statement = insert(Worker).values([worker.model_dump() for worker in workers])
    excluded = statement.excluded
    changed = or_(
        *(getattr(Worker, name).is_distinct_from(excluded[name]) for name in _CATALOGUE_FIELDS)
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Worker.id],
            set_={**{name: excluded[name] for name in _CATALOGUE_FIELDS}, "updated_at": func.now()},
            where=changed,
        )
    )


async def list_workers(session: AsyncSession, *, status: str | None) -> list[WorkerRecord]:
    statement = select(*_WORKER_COLUMNS).order_by(Worker.id)
    if status is not None:
        statement = statement.where(Worker.status == status)
    return [_worker(row) for row in await session.execute(statement)]


async def get_worker(session: AsyncSession, worker_id: str) -> WorkerRecord | None:
    row = (
        await session.execute(select(*_WORKER_COLUMNS).where(Worker.id == worker_id))
    ).one_or_none()
    return _worker(row) if row is not None else None


async def list_configs(session: AsyncSession, tenant_id: str) -> dict[str, ConfigRecord]:
    statement = tenant_scoped(select(*_CONFIG_COLUMNS), TenantWorkerConfig.tenant_id, tenant_id)
    return {row.worker_id: _config(row) for row in await session.execute(statement)}


async def get_config(session: AsyncSession, tenant_id: str, worker_id: str) -> ConfigRecord | None:
    statement = tenant_scoped(
        select(*_CONFIG_COLUMNS), TenantWorkerConfig.tenant_id, tenant_id
    ).where(TenantWorkerConfig.worker_id == worker_id)
    row = (await session.execute(statement)).one_or_none()
    return _config(row) if row is not None else None


async def put_config(
    session: AsyncSession, tenant_id: str, worker_id: str, values: dict[str, Any]
) -> ConfigRecord:
    statement = insert(TenantWorkerConfig).values(
        tenant_id=tenant_id, worker_id=worker_id, **values
    )
    row = (
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[TenantWorkerConfig.tenant_id, TenantWorkerConfig.worker_id],
                set_={**values, "updated_at": func.now()},
            ).returning(*_CONFIG_COLUMNS)
        )
    ).one()
    return _config(row)
