"""Pydantic I/O of the audit ledger (API.md audit-ledger section)."""

from __future__ import annotations

import enum
from typing import Any

import rfc8785
from pydantic import BaseModel, Field, field_validator, model_validator

ID_MAX = 255
STATE_MAX_BYTES = 256 * 1024


class EventType(enum.StrEnum):
    POLICY_RULE_CREATED = "PolicyRuleCreated"
    POLICY_RULE_MODIFIED = "PolicyRuleModified"
    POLICY_RULE_RETIRED = "PolicyRuleRetired"
    POLICY_PROPOSAL_APPROVED = "PolicyProposalApproved"
    POLICY_PROPOSAL_REJECTED = "PolicyProposalRejected"
    LIMIT_CREATED = "LimitCreated"
    LIMIT_UPDATED = "LimitUpdated"
    LIMIT_BREACHED = "LimitBreached"
    LIMIT_OVERRIDE_GRANTED = "LimitOverrideGranted"
    LIMIT_OVERRIDE_REVOKED = "LimitOverrideRevoked"
    INCIDENT_ACKNOWLEDGED = "IncidentAcknowledged"
    INCIDENT_RESOLVED = "IncidentResolved"
    INCIDENT_MANUALLY_CLOSED = "IncidentManuallyClosed"
    EMERGENCY_OVERRIDE_ACTIVATED = "EmergencyOverrideActivated"
    EMERGENCY_OVERRIDE_DEACTIVATED = "EmergencyOverrideDeactivated"
    SIGNAL_ACKNOWLEDGED = "SignalAcknowledged"
    SIGNAL_SUPPRESSED = "SignalSuppressed"
    SIGNAL_ESCALATED = "SignalEscalated"
    API_KEY_CREATED = "ApiKeyCreated"
    API_KEY_REVOKED = "ApiKeyRevoked"
    LOGS_EXPORTED = "LogsExported"
    TRACE_DELETED = "TraceDeleted"
    # Beyond API.md's list: API.md has cost-intel's reprice audited, and no listed type names it.
    COST_REPRICED = "CostRepriced"
    RESERVATION_EXPIRED = "ReservationExpired"
    BUDGET_THRESHOLD_REACHED = "BudgetThresholdReached"


class EntityType(enum.StrEnum):
    POLICY_RULE = "POLICY_RULE"
    POLICY_PROPOSAL = "POLICY_PROPOSAL"
    LIMIT = "LIMIT"
    INCIDENT = "INCIDENT"
    SIGNAL = "SIGNAL"
    API_KEY = "API_KEY"
    TRACE = "TRACE"
    EXPORT = "EXPORT"
    PRICE_BOOK = "PRICE_BOOK"  # beyond API.md's list: the entity a CostRepriced entry is about
    RESERVATION = "RESERVATION"  # beyond API.md's list: a budget hold (ReservationExpired)


class ActorType(enum.StrEnum):
    HUMAN = "HUMAN"
    SYSTEM = "SYSTEM"
    AGENT = "AGENT"


# Producers that pass their principal type through are understood rather than refused: an outbox
# message that can never be accepted would be retried forever.
PRINCIPAL_ACTOR_TYPES = {
    "user": ActorType.HUMAN,
    "operator": ActorType.HUMAN,
    "api_key": ActorType.AGENT,
    "service": ActorType.SYSTEM,
}


def normalise_actor_type(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in PRINCIPAL_ACTOR_TYPES:
            return PRINCIPAL_ACTOR_TYPES[lowered]
        return value.strip().upper()
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def storable_text(value: str | None) -> str | None:
    """Text PostgreSQL can store: no NUL characters, no lone surrogates."""
    if value is None:
        return value
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode") from None
    return value


def check_hashable_state(name: str, state: dict[str, Any] | None) -> None:
    """A state must have an RFC 8785 form (no NaN, integers within ±2^53, valid Unicode) and no
    NUL characters (PostgreSQL cannot store them), or the entry could never be verified."""
    if state is None:
        return
    if _has_nul(state):
        raise ValueError(f"{name} must not contain NUL characters")
    try:
        canonical = rfc8785.dumps(state)
    except (rfc8785.CanonicalizationError, UnicodeError, RecursionError) as error:
        raise ValueError(f"{name} has no RFC 8785 canonical form: {error}") from None
    if len(canonical) > STATE_MAX_BYTES:
        raise ValueError(f"{name} is larger than {STATE_MAX_BYTES} bytes as RFC 8785 JSON")


class EntryCreate(BaseModel):
    """An entry as a client posts it; tenant, seq, time and hashes are the ledger's to set."""

    event_type: EventType
    entity_type: EntityType
    entity_id: str = Field(min_length=1, max_length=ID_MAX)
    actor_type: ActorType | None = Field(
        default=None, description="Default: HUMAN for console users, AGENT for API keys"
    )
    actor_id: str | None = Field(
        default=None, min_length=1, max_length=ID_MAX, description="Default: the caller"
    )
    action_reason: str | None = Field(default=None, max_length=10_000)
    before_state: dict[str, Any] | None = None
    after_state: dict[str, Any] | None = None

    @field_validator("actor_type", mode="before")
    @classmethod
    def _actor_type(cls, value: Any) -> Any:
        return normalise_actor_type(value)

    @field_validator("entity_type", mode="before")
    @classmethod
    def _entity_type(cls, value: Any) -> Any:
        """`api_key` and `API_KEY` name the same entity type."""
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("entity_id", "actor_id", "action_reason")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return storable_text(value)

    @model_validator(mode="after")
    def _states_hashable(self) -> EntryCreate:
        check_hashable_state("before_state", self.before_state)
        check_hashable_state("after_state", self.after_state)
        return self


class InternalEntryCreate(EntryCreate):
    """What another service's outbox delivers: `id` is the de-duplication key."""

    id: str = Field(min_length=1, max_length=128)
    tenant_id: str = Field(min_length=1, max_length=64)
    actor_type: ActorType = ActorType.SYSTEM  # type: ignore[assignment]
    actor_id: str = Field(default="system", min_length=1, max_length=ID_MAX)  # type: ignore[assignment]

    @field_validator("id", "tenant_id")
    @classmethod
    def _storable_ids(cls, value: str) -> str:
        storable_text(value)
        return value


class EntryRead(BaseModel):
    id: str
    seq: int
    tenant_id: str
    event_type: str
    entity_type: str
    entity_id: str
    actor_type: str
    actor_id: str
    action_reason: str | None
    before_state: dict[str, Any] | None
    after_state: dict[str, Any] | None
    created_at: str = Field(description="ISO-8601 UTC, exactly the string that was hashed")
    prev_hash: str
    entry_hash: str


class TreeHeadRead(BaseModel):
    tree_size: int
    root_hash: str
    timestamp: str
    signature: str = Field(
        description="base64 Ed25519 signature of the RFC 8785 JSON of "
        "{tenant_id, tree_size, root_hash, timestamp}"
    )
    key_id: str


class SignedTreeHead(TreeHeadRead):
    """A tree head with the key that signed it, as bundles carry it."""

    tenant_id: str
    public_key: str


class PublicKeyRead(BaseModel):
    key_id: str
    algorithm: str = "Ed25519"
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    public_key_pem: str
    signed_message: str = Field(
        description="What a tree-head signature covers",
        default="RFC 8785 canonical JSON of {tenant_id, tree_size, root_hash, timestamp}",
    )


class PublishedKeyRead(PublicKeyRead):
    current: bool = Field(description="True for the key that signs new heads")


class PublicKeySetRead(BaseModel):
    """Every key a stored tree head may carry: the current one and the retired ones."""

    keys: list[PublishedKeyRead]


class InclusionProofRead(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProofRead(BaseModel):
    first: int
    second: int
    proof: list[str]


class VerifyRead(BaseModel):
    intact: bool
    checked: int
    broken_at_seq: int | None = None
    reason: str | None = None


class EntryWithProof(EntryRead):
    proof: InclusionProofRead


class EntriesWithProofsRead(BaseModel):
    tree_head: SignedTreeHead
    entries: list[EntryWithProof]


class EntityHistoryRead(BaseModel):
    entity_type: str
    entity_id: str
    total: int
    entries: list[EntryRead]


class SignalFeedbackRead(BaseModel):
    signal_id: str
    total: int
    feedback: list[EntryRead]


class RunSignalsRead(BaseModel):
    run_id: str
    total: int
    signals: list[EntryRead]
