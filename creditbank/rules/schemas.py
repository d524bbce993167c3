"""Pydantic shapes of the rules context's API: outcomes and dry runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer


class OutcomeRead(BaseModel):
    """A learning outcome: what was recognised, from which statement(s), by which rule."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    learner_id: uuid.UUID
    unit_code: str
    unit_title_zh: str
    unit_title_en: str
    category: str
    level: int
    credits: Decimal = Field(description="credited after accumulation")
    unit_credits: Decimal = Field(description="recognised before accumulation")
    score_scaled: str | None
    status: str
    statement_ids: list[str]
    institution_key: str = Field(description="the source institution")
    rule_id: str
    rule_version: int
    standards_id: str
    standards_version: str
    standards_hash: str
    requires_review: bool
    recognised_at: datetime
    statement_timestamp: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
    superseded_by: uuid.UUID | None

    @field_serializer("credits", "unit_credits")
    def _credits(self, value: Decimal) -> str:
        return f"{value:.2f}"


class DryRunRequest(BaseModel):
    """A statement to evaluate without storing anything."""

    model_config = ConfigDict(extra="forbid")

    statement: dict[str, Any]
    institution_key: str | None = Field(
        default=None, description="sender (default: the calling institution credential's)"
    )
    version: str | None = Field(default=None, description="standards version (default: in force)")
    set_id: str | None = None
    learner_id: uuid.UUID | None = Field(
        default=None, description="evaluate against this learner's current record"
    )
