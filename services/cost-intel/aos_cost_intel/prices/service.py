"""The price book: which version is current, pricing lookups, loading new versions.

Each instance caches the current book and re-reads it only when the current version name changes
(one indexed single-row query per pricing request), so a PUT on one instance is seen by all. A
session asks once: the book it got is kept in `session.info` for its later calls (an outbox batch
prices its records in two steps, each of which would otherwise ask again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.db import session_scope
from aos_common.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from aos_cost_intel.domain.pricing import (
    PriceBook,
    PriceBookError,
    parse_price_book,
    price_entry_document,
    shipped_price_book,
)
from aos_cost_intel.prices import repository
from aos_cost_intel.prices.schemas import PriceBookLoaded, PriceBookRead, PriceEntryRead
from aos_cost_intel.state import cost_intel_state

_SESSION_BOOK = "aos_price_book"


@dataclass
class PriceBookCache:
    book: PriceBook | None = None

    async def current(self, session: AsyncSession) -> PriceBook:
        known = session.info.get(_SESSION_BOOK)
        if isinstance(known, PriceBook):
            return known
        session.info[_SESSION_BOOK] = book = await self._read(session)
        return book

    async def _read(self, session: AsyncSession) -> PriceBook:
        version = await repository.current_version(session)
        if version is None:
            raise ServiceUnavailable("No price book is loaded")
        if self.book is None or self.book.version != version:
            book = await repository.load_book(session, version)
            if book is None:
                raise ServiceUnavailable("No price book is loaded")
            self.book = book
        return self.book


async def ensure_shipped_book(session: AsyncSession) -> bool:
    """Load the shipped price list when the database has no price book at all (first start)."""
    if await repository.current_version(session) is not None:
        return False
    return await repository.insert_book(session, shipped_price_book(), "shipped", datetime.now(UTC))


async def read_book(session: AsyncSession, version: str | None) -> PriceBookRead:
    current = await repository.current_version(session)
    if current is None:
        raise ServiceUnavailable("No price book is loaded")
    wanted = version or current
    book = await repository.load_book(session, wanted)
    loaded_at = await repository.version_loaded_at(session, wanted)
    if book is None or loaded_at is None:
        raise NotFound(f"Price version '{wanted}' not found")
    return PriceBookRead(
        version=wanted,
        current_version=current,
        loaded_at=loaded_at,
        prices=[PriceEntryRead.model_validate(p, from_attributes=True) for p in book.prices],
        versions=await repository.versions(session),
    )


def _same_entries(left: PriceBook, right: PriceBook) -> bool:
    return [price_entry_document(p) for p in left.prices] == [
        price_entry_document(p) for p in right.prices
    ]


async def load_version(session: AsyncSession, document: Any, loaded_by: str) -> PriceBookLoaded:
    """Store a new version and make it current. Re-sending an identical, already stored version
    makes it current again (how an operator rolls back); the same name with different prices is
    refused (a version, once loaded, never changes)."""
    try:
        book = parse_price_book(document)
    except PriceBookError as error:
        raise BadRequest(f"Invalid price book: {error}") from error
    existing = await repository.load_book(session, book.version)
    if existing is not None:
        if not _same_entries(existing, book):
            raise Conflict(f"Price version '{book.version}' already exists with different prices")
        loaded = False
        await repository.make_current(session, book.version, loaded_by, datetime.now(UTC))
    else:
        loaded = await repository.insert_book(session, book, loaded_by, datetime.now(UTC))
    current = await repository.current_version(session)
    return PriceBookLoaded(
        version=book.version,
        loaded=loaded,
        entries=len(book.prices),
        current_version=current or book.version,
    )


async def book_for_version(session: AsyncSession, version: str) -> PriceBook:
    book = await repository.load_book(session, version)
    if book is None:
        raise NotFound(f"Price version '{version}' not found")
    return book


@asynccontextmanager
async def price_book(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: the price-book cache, and the shipped price list on first start."""
    state = cost_intel_state(app)
    state.prices = PriceBookCache()
    async for session in session_scope(state.sessionmaker):
        await ensure_shipped_book(session)
    yield
