"""Bodies of the internal credential routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UsageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=64)
    key_id: str | None = Field(default=None, min_length=1, max_length=64)
    requests: int = Field(gt=0, le=1_000_000_000)


class UsageReport(BaseModel):
    """API calls a gateway let through on a cached forward-auth grant, since its last report."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(min_length=16, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")
    entries: list[UsageEntry] = Field(max_length=50_000)


class UsageReceipt(BaseModel):
    batch_id: str
    recorded: bool = Field(description="False when this batch id had already been recorded")


class RecentRevocations(BaseModel):
    key_ids: list[str] = Field(
        description="Keys revoked or expired within a signed context's lifetime (70 s)"
    )
