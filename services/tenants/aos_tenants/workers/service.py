"""Which workers a tenant sees and may run, and their configs (tenant overrides over defaults).

A public worker is visible to every tenant and enabled unless the tenant disabled it; a private
worker is visible only to tenants an operator configured it for (and to operators).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.errors import NotFound
from aos_tenants.tenants import repository as tenants_repository
from aos_tenants.workers import repository
from aos_tenants.workers.repository import ConfigRecord, WorkerRecord
from aos_tenants.workers.schemas import (
    AvailableWorker,
    WorkerConfigRead,
    WorkerConfigUpdate,
    WorkerDetail,
    WorkerSummary,
)

WORKER_NOT_FOUND = "Worker not found"
TENANT_NOT_FOUND = "Tenant not found"


def _summary(worker: WorkerRecord) -> dict[str, object]:
    return {name: getattr(worker, name) for name in WorkerSummary.model_fields}


def _visible(worker: WorkerRecord, config: ConfigRecord | None, is_operator: bool) -> bool:
    return worker.is_public or config is not None or is_operator


def worker_enabled(is_public: bool, config_enabled: bool | None) -> bool:
    """A tenant's explicit setting wins; without one, public workers are enabled."""
    return config_enabled if config_enabled is not None else is_public


def _enabled(worker: WorkerRecord, config: ConfigRecord | None) -> bool:
    return worker_enabled(worker.is_public, config.enabled if config is not None else None)


async def list_workers(
    session: AsyncSession, tenant_id: str | None, *, status: str | None, is_operator: bool
) -> list[WorkerSummary]:
    configs = await repository.list_configs(session, tenant_id) if tenant_id else {}
    workers = await repository.list_workers(session, status=status)
    return [
        WorkerSummary.model_validate(_summary(worker))
        for worker in workers
        if _visible(worker, configs.get(worker.id), is_operator)
    ]


async def available_workers(
    session: AsyncSession, tenant_id: str, *, include_disabled: bool
) -> list[AvailableWorker]:
    configs = await repository.list_configs(session, tenant_id)
    result = []
    for worker in await repository.list_workers(session, status=None):
        config = configs.get(worker.id)
        if not _visible(worker, config, is_operator=False):
            continue
        enabled = _enabled(worker, config)
        if enabled or include_disabled:
            result.append(AvailableWorker.model_validate({**_summary(worker), "enabled": enabled}))
    return result


async def _visible_worker(
    session: AsyncSession, tenant_id: str | None, worker_id: str, is_operator: bool
) -> tuple[WorkerRecord, ConfigRecord | None]:
    worker = await repository.get_worker(session, worker_id)
    config = (
        await repository.get_config(session, tenant_id, worker_id)
        if worker is not None and tenant_id
        else None
    )
    if worker is None or not _visible(worker, config, is_operator):
        raise NotFound(WORKER_NOT_FOUND)
    return worker, config


async def get_worker(
    session: AsyncSession, tenant_id: str | None, worker_id: str, *, is_operator: bool
) -> WorkerDetail:
    worker, _ = await _visible_worker(session, tenant_id, worker_id, is_operator)
    return WorkerDetail.model_validate(worker.__dict__)


def merged_config(worker: WorkerRecord, config: ConfigRecord | None) -> WorkerConfigRead:
    return WorkerConfigRead(
        worker_id=worker.id,
        enabled=_enabled(worker, config),
        config={**worker.default_config, **(config.config if config else {})},
        brand=config.brand if config else None,
        max_runs_per_day=config.max_runs_per_day if config else None,
        max_tokens_per_run=config.max_tokens_per_run if config else None,
    )


async def get_config(
    session: AsyncSession, tenant_id: str, worker_id: str, *, is_operator: bool
) -> WorkerConfigRead:
    worker, config = await _visible_worker(session, tenant_id, worker_id, is_operator)
    return merged_config(worker, config)


async def put_config(
    session: AsyncSession,
    tenant_id: str,
    worker_id: str,
    body: WorkerConfigUpdate,
    *,
    is_operator: bool,
) -> WorkerConfigRead:
    if await tenants_repository.get_tenant(session, tenant_id) is None:
        raise NotFound(TENANT_NOT_FOUND)
    worker, _ = await _visible_worker(session, tenant_id, worker_id, is_operator)
    config = await repository.put_config(
        session,
        tenant_id,
        worker_id,
        {
            "enabled": body.enabled,
            "config": body.config or {},
            "brand": body.brand,
            "max_runs_per_day": body.max_runs_per_day,
            "max_tokens_per_run": body.max_tokens_per_run,
        },
    )
    return merged_config(worker, config)
