"""Cost records: one LLM call's tokens and exact cost, attributed to user, feature and request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from aos_cost_intel.schemas import NO_NUL, Cents, CentsIn, Identifier, ModelName, TokenCount

MAX_BATCH = 10_000


class CostRecordCreate(BaseModel):
    """`input_tokens` excludes cached input; `output_tokens` excludes reasoning tokens."""

    user_id: Identifier | None = None
    feature_tag: Identifier | None = None
    request_id: Identifier | None = None
    workflow_id: Identifier | None = None
    skill_id: Identifier | None = None
    model: ModelName
    input_tokens: TokenCount = 0
    output_tokens: TokenCount = 0
    cache_read_input_tokens: TokenCount = 0
    cache_creation_input_tokens: TokenCount = 0
    reasoning_output_tokens: TokenCount = 0
    cost_cents: CentsIn | None = None
    occurred_at: datetime | None = Field(
        default=None,
        description="When the call happened (default: now); at most 400 days back, never ahead.",
    )
    reservation_id: Annotated[str, Field(max_length=32, pattern=NO_NUL)] | None = Field(
        default=None,
        description="Settle this held reservation with the record (docs/RESERVATIONS.md); a "
        "reservation no longer held leaves the record stored as usual.",
    )

    @field_validator(
        "user_id",
        "feature_tag",
        "request_id",
        "workflow_id",
        "skill_id",
        "reservation_id",
        mode="before",
    )
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        """An empty identifier means none (SDKs and span converters send "" for "not set")."""
        return None if value == "" else value


class InternalCostRecordCreate(CostRecordCreate):
    model_config = ConfigDict(extra="ignore")

    tenant_id: str = Field(min_length=1, max_length=64)
    id: str | None = Field(default=None, max_length=128, description="Outbox message id.")


MaybeIdentifier = Annotated[str, Field(max_length=256, pattern=NO_NUL)]
"""An Identifier or "": the service reads "" as absent, as CostRecordCreate does."""


class CostRecordIn(TypedDict):
    """One record of a batch, with the constraints of CostRecordCreate; an absent key takes the
    model's default. A batch validates into plain dicts because 10,000 model instances cost more
    than the rest of the request's Python work; `record_costs` reads both shapes as this one."""

    model: ModelName
    user_id: NotRequired[MaybeIdentifier | None]
    feature_tag: NotRequired[MaybeIdentifier | None]
    request_id: NotRequired[MaybeIdentifier | None]
    workflow_id: NotRequired[MaybeIdentifier | None]
    skill_id: NotRequired[MaybeIdentifier | None]
    input_tokens: NotRequired[TokenCount]
    output_tokens: NotRequired[TokenCount]
    cache_read_input_tokens: NotRequired[TokenCount]
    cache_creation_input_tokens: NotRequired[TokenCount]
    reasoning_output_tokens: NotRequired[TokenCount]
    cost_cents: NotRequired[CentsIn | None]
    occurred_at: NotRequired[datetime | None]
    reservation_id: NotRequired[Annotated[str, Field(max_length=32, pattern=NO_NUL)] | None]


class CostRecordBatch(TypedDict):
    records: list[CostRecordIn]


class RecordResult(BaseModel):
    id: str
    status: Literal["recorded"] = "recorded"
    cost_cents: Cents
    price_version: str | None
    duplicate: bool = False


class BatchItemResult(BaseModel):
    index: int
    id: str
    status: Literal["recorded", "duplicate"]
    cost_cents: Cents
    price_version: str | None


class BatchResult(BaseModel):
    recorded_count: int
    duplicate_count: int
    total_cost_cents: Cents
    records: list[BatchItemResult]


class CostRecordRead(BaseModel):
    id: str
    tenant_id: str
    occurred_at: datetime
    user_id: str | None
    feature_tag: str
    request_id: str | None
    workflow_id: str | None
    skill_id: str | None
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    reasoning_output_tokens: int
    cost_cents: Cents
    cost_source: str
    price_version: str | None
    recorded_at: datetime


class RunCostRead(BaseModel):
    run_id: str
    records: list[CostRecordRead]
    total_cost_cents: Cents


class RepriceRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    price_version: str = Field(min_length=1, max_length=64)


class RepriceResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: datetime = Field(alias="from")
    to: datetime
    price_version: str
    repriced_count: int
    unchanged_count: int
    skipped_count: int
    client_priced_count: int
    previous_total_cents: Cents
    new_total_cents: Cents
    audit_entry_id: str
