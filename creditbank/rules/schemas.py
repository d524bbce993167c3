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


# -- explanations: the walk from a credit back to rules and statements ------------------
# Times and credits are already text here (ISO 8601, two decimals); traces and
# evaluation details are the engine's own JSON.


class TextRead(BaseModel):
    zh: str
    en: str


class RuleRef(BaseModel):
    id: str | None
    version: int | str | None


class StandardsRefRead(BaseModel):
    id: str | None
    version: str | None
    hash: str | None


class UnitRead(BaseModel):
    code: str
    title: TextRead
    category: str
    level: int
    credits: str


class RevokedRead(BaseModel):
    at: str
    reason: str | None


class OutcomeExplanation(BaseModel):
    """Why an outcome exists: statement(s), rule and version, standards, the trace."""

    outcome_id: str
    learner_id: str
    status: str
    unit: UnitRead
    credited: str
    statement_ids: list[str]
    institution: str
    rule: RuleRef
    standards: StandardsRefRead
    recognised_at: str
    expires_at: str | None
    revoked: RevokedRead | None
    superseded_by: str | None
    trace: Any
    evaluation: Any


class ExplainedEntryRead(BaseModel):
    id: str
    learner_id: str
    seq: int
    kind: str
    amount: str
    unit_code: str | None
    rule: RuleRef
    standards_version: str | None
    statement_ids: list[str]
    reason: str | None
    posted_at: str


class LedgerEntryExplanation(BaseModel):
    """A ledger entry and the explanation of each outcome it moved."""

    entry: ExplainedEntryRead
    outcomes: list[OutcomeExplanation]


class StatementOutcomeRead(BaseModel):
    id: str
    unit_code: str
    credits: str
    status: str
    rule: RuleRef


class EvaluationRead(BaseModel):
    id: str
    kind: str
    evaluated_at: str
    standards: StandardsRefRead | None
    recognised: bool
    unit_code: str | None
    credited: str
    reason: TextRead
    detail: Any


class StatementExplanation(BaseModel):
    """Why a stored statement was recognised or not (or is held, or waits)."""

    statement_id: str
    status: str
    reason: TextRead
    outcomes: list[StatementOutcomeRead]
    evaluations: list[EvaluationRead]


class DryRunResult(BaseModel):
    """The engine's evaluation of a posted statement (nothing stored)."""

    statement_id: str | None
    standards: dict[str, Any]
    facts: dict[str, Any]
    unit_code: str | None
    recognised: bool
    reason: dict[str, Any]
    decisions: list[dict[str, Any]]
    trace: dict[str, Any]
    notes: list[Any]
    stored: bool


class ReevaluationTotals(BaseModel):
    added: int
    removed: int
    changed: int
    delta: str


class ReevaluationChange(BaseModel):
    learner_id: str
    unit_code: str
    change: str
    old_outcome_id: str | None
    old_credits: str
    new_credits: str
    delta: str
    old_rule: str | None
    new_rule: str | None
    statement_id: str | None


class ReevaluationRead(BaseModel):
    """What a standards version changes (or changed, ``applied``) for which learners."""

    standards: StandardsRefRead
    applied: bool
    learners_considered: int
    learners_changed: int
    changes: dict[str, list[ReevaluationChange]]
    totals: ReevaluationTotals
