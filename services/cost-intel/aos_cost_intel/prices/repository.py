"""SQL for the versioned price book. The current version is the one loaded last."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_cost_intel.domain.pricing import ModelPrice, PriceBook
from aos_cost_intel.models import SCHEMA, ModelPriceRow, PriceVersion
from aos_cost_intel.prices.schemas import PriceVersionRead


async def current_version(session: AsyncSession) -> str | None:
    statement = select(PriceVersion.version).order_by(PriceVersion.sequence.desc()).limit(1)
    return (await session.scalars(statement)).first()


async def versions(session: AsyncSession) -> list[PriceVersionRead]:
    rows = (
        await session.scalars(select(PriceVersion).order_by(PriceVersion.sequence.desc()))
    ).all()
    return [
        PriceVersionRead(
            version=row.version,
            loaded_at=row.loaded_at,
            loaded_by=row.loaded_by,
            is_current=index == 0,
        )
        for index, row in enumerate(rows)
    ]


async def load_book(session: AsyncSession, version: str) -> PriceBook | None:
    rows = (
        await session.scalars(
            select(ModelPriceRow)
            .where(ModelPriceRow.version == version)
            .order_by(ModelPriceRow.position)
        )
    ).all()
    if not rows:
        return None
    return PriceBook(
        version=version,
        prices=tuple(
            ModelPrice(
                model=row.model,
                provider=row.provider,
                pattern=row.pattern,
                input=row.input,
                cache_read=row.cache_read,
                cache_creation=row.cache_creation,
                output=row.output,
                reasoning=row.reasoning,
                effective_from=row.effective_from,
                effective_to=row.effective_to,
            )
            for row in rows
        ),
    )


async def insert_book(
    session: AsyncSession, book: PriceBook, loaded_by: str, now: datetime
) -> bool:
    """Store a new version (False when the version name already exists)."""
    created = (
        await session.execute(
            insert(PriceVersion)
            .values(version=book.version, loaded_at=now, loaded_by=loaded_by)
            .on_conflict_do_nothing(index_elements=["version"])
            .returning(PriceVersion.version)
        )
    ).scalar_one_or_none()
    if created is None:
        return False
    await session.execute(
        insert(ModelPriceRow),
        [
            {
                "version": book.version,
                "position": position,
                "model": price.model,
                "provider": price.provider,
                "pattern": price.pattern,
                "input": price.input,
                "cache_read": price.cache_read,
                "cache_creation": price.cache_creation,
                "output": price.output,
                "reasoning": price.reasoning,
                "effective_from": price.effective_from,
                "effective_to": price.effective_to,
            }
            for position, price in enumerate(book.prices)
        ],
    )
    return True


async def version_loaded_at(session: AsyncSession, version: str) -> datetime | None:
    statement = select(PriceVersion.loaded_at).where(PriceVersion.version == version)
    return (await session.scalars(statement)).first()


async def make_current(session: AsyncSession, version: str, loaded_by: str, now: datetime) -> None:
    """Make an existing version current again (it becomes the last one loaded)."""
    await session.execute(
        text(
            f"UPDATE {SCHEMA}.price_versions SET loaded_at = :now, loaded_by = :by, "
            f"sequence = nextval(pg_get_serial_sequence('{SCHEMA}.price_versions', 'sequence')) "
            "WHERE version = :version"
        ),
        {"now": now, "by": loaded_by, "version": version},
    )
