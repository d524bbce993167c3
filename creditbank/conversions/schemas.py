"""API shapes of conversions and the inbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from creditbank.conversions.models import Decision


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: str = Field(min_length=1, max_length=2000)


class AppealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage: str
    reviewer_id: uuid.UUID
    reviewer_label: str | None
    decision: str
    reason: str
    created_at: datetime


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    learner_id: uuid.UUID
    rule_id: str
    rule_version: int
    standards_id: str
    standards_version: str
    standards_hash: str
    programme: str
    target_institution_key: str
    target_kind: str
    target_unit: str | None
    title: dict[str, Any]
    credits: Decimal
    outcome_ids: list[str]
    source_units: list[str]
    status: str
    required_approvals: int
    note: str | None
    decision_reason: str | None
    appeal_reason: str | None
    ledger_entry_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None


class ApplicationDetail(ApplicationRead):
    reviews: list[ReviewRead] = Field(default_factory=list)


class OptionRead(BaseModel):
    rule_id: str
    rule_version: int
    title: dict[str, str]
    programme: str
    target_kind: str
    target_unit: str | None
    credits: Decimal
    outcome_ids: list[str]
    source_units: list[str]
    requires_approval: bool


class DryRunRead(BaseModel):
    learner_id: uuid.UUID
    standards_id: str
    standards_version: str
    standards_hash: str
    as_of: datetime
    options: list[OptionRead]


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    learner_id: uuid.UUID
    kind: str
    subject_zh: str
    subject_en: str
    body_zh: str
    body_en: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
