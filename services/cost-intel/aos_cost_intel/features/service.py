"""Feature tags: create (409 on duplicates, 400 on a malformed tag), list, partial update."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aos_common.errors import BadRequest, Conflict, NotFound
from aos_common.ids import new_id
from aos_cost_intel.features import repository
from aos_cost_intel.features.schemas import FeatureTagCreate, FeatureTagRead, FeatureTagUpdate

TAG_FORMAT = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+$")
UNCLASSIFIED = "unclassified"


def require_tag_format(tag: str) -> None:
    if not TAG_FORMAT.match(tag):
        raise BadRequest(
            "Feature tag must be in namespace.action format (e.g., 'customer_support.chat')"
        )


async def create_tag(
    session: AsyncSession, tenant_id: str, body: FeatureTagCreate
) -> FeatureTagRead:
    require_tag_format(body.tag)
    now = datetime.now(UTC)
    created = await repository.insert_tag(
        session,
        {
            "tenant_id": tenant_id,
            "id": new_id("ft_"),
            "tag": body.tag,
            "display_name": body.display_name,
            "description": body.description,
            "budget_cents": body.budget_cents,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        },
    )
    if created is None:
        raise Conflict(f"Feature tag '{body.tag}' already exists for this tenant")
    return created


async def list_tags(
    session: AsyncSession, tenant_id: str, include_inactive: bool
) -> list[FeatureTagRead]:
    return await repository.list_tags(session, tenant_id, include_inactive)


async def update_tag(
    session: AsyncSession, tenant_id: str, tag: str, body: FeatureTagUpdate
) -> FeatureTagRead:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("display_name", "") is None or changes.get("is_active", False) is None:
        raise BadRequest("display_name and is_active cannot be null")
    updated = await repository.update_tag(
        session, tenant_id, tag, {**changes, "updated_at": datetime.now(UTC)}
    )
    if updated is None:
        raise NotFound(f"Feature tag '{tag}' not found")
    return updated


async def classify(session: AsyncSession, tenant_id: str, tags: list[str | None]) -> list[str]:
    """Each tag as stored: unknown, inactive or missing tags become 'unclassified'."""
    active = await repository.active_tags(session, tenant_id, [t for t in tags if t])
    return [tag if tag and tag in active else UNCLASSIFIED for tag in tags]
