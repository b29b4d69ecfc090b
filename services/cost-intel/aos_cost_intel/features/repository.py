"""SQL for feature tags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import tenant_scoped
from aos_cost_intel.features.schemas import FeatureTagRead
from aos_cost_intel.models import FeatureTag


def _read(row: FeatureTag) -> FeatureTagRead:
    return FeatureTagRead.model_validate(row, from_attributes=True)


async def insert_tag(session: AsyncSession, values: dict[str, Any]) -> FeatureTagRead | None:
    """Insert a tag; None when (tenant, tag) already exists."""
    statement = (
        insert(FeatureTag)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "tag"])
        .returning(FeatureTag)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    return None if row is None else _read(row)


async def list_tags(
    session: AsyncSession, tenant_id: str, include_inactive: bool
) -> list[FeatureTagRead]:
    statement = tenant_scoped(select(FeatureTag), FeatureTag.tenant_id, tenant_id).order_by(
        FeatureTag.tag
    )
    if not include_inactive:
        statement = statement.where(FeatureTag.is_active.is_(True))
    return [_read(row) for row in (await session.scalars(statement)).all()]


async def update_tag(
    session: AsyncSession, tenant_id: str, tag: str, changes: dict[str, Any]
) -> FeatureTagRead | None:
    statement = (
        update(FeatureTag)
        .where(FeatureTag.tenant_id == tenant_id, FeatureTag.tag == tag)
        .values(**changes)
        .returning(FeatureTag)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    return None if row is None else _read(row)


async def active_tags(session: AsyncSession, tenant_id: str, tags: Iterable[str]) -> set[str]:
    """Which of `tags` are active feature tags of the tenant."""
    wanted = sorted(set(tags))
    if not wanted:
        return set()
    statement = tenant_scoped(select(FeatureTag.tag), FeatureTag.tenant_id, tenant_id).where(
        FeatureTag.is_active.is_(True), FeatureTag.tag.in_(wanted)
    )
    return set((await session.scalars(statement)).all())


async def tag_details(session: AsyncSession, tenant_id: str) -> dict[str, FeatureTagRead]:
    statement = tenant_scoped(select(FeatureTag), FeatureTag.tenant_id, tenant_id)
    return {row.tag: _read(row) for row in (await session.scalars(statement)).all()}
