"""API shapes of the ledger (credits are decimal strings in JSON, never floats)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BucketRead(BaseModel):
    banked: Decimal
    available: Decimal
    converted: Decimal
    expired: Decimal


class ExemptionRead(BaseModel):
    unit_code: str | None
    credits: Decimal | None = None
    institution_key: str | None = None
    programme: str | None = None
    conversion_id: str
    rule_id: str | None
    entry_id: str
    seq: int


class BalancesRead(BaseModel):
    learner_id: uuid.UUID
    as_of: datetime | None
    seq: int
    head_hash: str
    banked: Decimal
    available: Decimal
    converted: Decimal
    expired: Decimal
    by_category: dict[str, BucketRead]
    by_level: dict[str, BucketRead]
    exemptions: list[ExemptionRead] = Field(default_factory=list)
    target_credits: Decimal = Decimal("0.00")


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    learner_id: uuid.UUID
    seq: int
    kind: str
    amount: Decimal
    delta_available: Decimal
    delta_converted: Decimal
    delta_expired: Decimal
    banked: Decimal
    available: Decimal
    converted: Decimal
    expired: Decimal
    legs: list[dict[str, Any]]
    outcome_id: uuid.UUID | None
    unit_code: str | None
    rule_id: str | None
    rule_version: str | None
    standards_version: str | None
    statement_ids: list[str]
    conversion_id: uuid.UUID | None
    target: dict[str, Any] | None
    actor: str
    reason: str | None
    posted_at: datetime
    prev_hash: str
    hash: str


#: No single correction moves more credits than this (a whole degree is ~160).
MAX_ADJUSTMENT = 10_000


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(
        description="signed credits, e.g. '1.5' or '-0.5'; never zero",
        ge=Decimal(-MAX_ADJUSTMENT),
        le=Decimal(MAX_ADJUSTMENT),
        allow_inf_nan=False,
    )
    reason: str = Field(min_length=1, max_length=2000)
    idempotency_key: str = Field(min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    level: int | None = Field(default=None, ge=0, le=99)
    outcome_id: uuid.UUID | None = None


class ChainProblemRead(BaseModel):
    learner_id: uuid.UUID
    seq: int | None
    entry_id: uuid.UUID | None
    reason: str


class VerifyRead(BaseModel):
    ok: bool
    learners: int
    entries: int
    problems: list[ChainProblemRead]


class CheckpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    root: str
    entry_count: int
    learner_count: int
    statement: dict[str, Any]
    kid: str
    signature: str


class CheckpointKeysRead(BaseModel):
    """The public keys that sign checkpoints, as a JWK Set."""

    keys: list[dict[str, Any]]


class CheckpointDocumentRead(BaseModel):
    """An exportable checkpoint: signed statement, signature, public key and leaves."""

    statement: dict[str, Any]
    kid: str
    signature: str
    public_key: dict[str, Any] | None
    leaves: list[list[Any]]


class ProofLeafRead(BaseModel):
    learner_id: str
    seq: int
    head_hash: str


class InclusionProofRead(BaseModel):
    """The Merkle audit path of a learner's chain head under a signed checkpoint."""

    checkpoint_id: int
    root: str
    tree_size: int
    index: int
    leaf: ProofLeafRead
    leaf_data: str
    proof: list[str]
    statement: dict[str, Any]
    kid: str
    signature: str
