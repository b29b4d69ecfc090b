"""All SQL of guard-logs: the export record. Returns pydantic models, never ORM rows."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_guard_logs.exports.schemas import LogExportCreate, LogExportRead
from aos_guard_logs.models import LogExport


class LogExportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: LogExportCreate) -> None:
        await self._session.execute(insert(LogExport).values(**record.model_dump()))

    async def get(self, tenant_id: str, export_id: str) -> LogExportRead | None:
        statement = tenant_scoped(select(LogExport), LogExport.tenant_id, tenant_id).where(
            LogExport.id == export_id
        )
        row = (await self._session.execute(statement)).scalar_one_or_none()
        return None if row is None else LogExportRead.model_validate(row, from_attributes=True)

    async def page(
        self, tenant_id: str, *, limit: int, offset: int
    ) -> tuple[list[LogExportRead], int]:
        """Newest first, and the tenant's total."""
        statement = (
            tenant_scoped(select(LogExport), LogExport.tenant_id, tenant_id)
            .order_by(LogExport.created_at.desc(), LogExport.id.desc())
            .limit(limit)
            .offset(offset)
        )
        rows = (await self._session.execute(statement)).scalars().all()
        total = await self._session.scalar(
            tenant_scoped(
                select(func.count()).select_from(LogExport), LogExport.tenant_id, tenant_id
            )
        )
        items = [LogExportRead.model_validate(row, from_attributes=True) for row in rows]
        return items, int(total or 0)
