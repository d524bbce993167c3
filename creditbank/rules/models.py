"""Recognised outcomes, the decision log of every evaluation, and held statements."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.time import utc_now
from creditbank.kit.types import Credits, JSONType, OptionalJSONType, UTCDateTime


class OutcomeStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # its statement was voided (or an operator revoked it)
    EXPIRED = "expired"  # its validity period ended
    SUPERSEDED = "superseded"  # a new standards version replaced it (see superseded_by)


class Outcome(Base):
    """A learning outcome (学习成果) recognised from one statement and credited.

    Only outcomes that credit something are stored here; a statement recognised
    but credited nothing (same unit already credited, cap full) is explained by
    its :class:`Evaluation`. At most one active outcome per learner and unit.
    """

    __tablename__ = "rule_outcomes"
    __table_args__ = (
        Index(
            "uq_rule_outcomes_active_unit",
            "learner_id",
            "unit_code",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        Index("ix_rule_outcomes_learner", "learner_id", "recognised_at"),
        Index("ix_rule_outcomes_expiry", "status", "expires_at"),
        # The dashboard's credits recognised per month, type and region: a range on
        # recognised_at that carries what the GROUP BY reads (rules_0002).
        Index("ix_rule_outcomes_recognised", "recognised_at", "institution_key", "credits"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    unit_code: Mapped[str] = mapped_column(String(64))
    unit_title_zh: Mapped[str] = mapped_column(String(200))
    unit_title_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    # Credited after accumulation (what the ledger received) and recognised before it.
    credits: Mapped[Decimal] = mapped_column(Credits)
    unit_credits: Mapped[Decimal] = mapped_column(Credits)
    # Exact decimal text as sent (never a float); None when the statement had no score.
    score_scaled: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=OutcomeStatus.ACTIVE)
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    statement_ids: Mapped[list[str]] = mapped_column(JSONType)
    institution_key: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[int] = mapped_column(Integer)
    standards_id: Mapped[str] = mapped_column(String(64))
    standards_version: Mapped[str] = mapped_column(String(64))
    standards_hash: Mapped[str] = mapped_column(String(64))
    evaluation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Outcomes stored before rules_0003 carry their trace; since then it is NULL and
    # read from the evaluation row (rules.outcomes.outcome_trace), not stored twice.
    trace: Mapped[dict[str, Any] | None] = mapped_column(OptionalJSONType, nullable=True)
    requires_review: Mapped[bool] = mapped_column(Boolean, default=False)
    recognised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    statement_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    superseded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class Evaluation(Base):
    """The decision log: one row each time a statement was evaluated, with the trace.

    This is how "why was this statement (not) recognised" is answered; the newest
    row of a statement is its current explanation.
    """

    __tablename__ = "rule_evaluations"
    __table_args__ = (
        Index("ix_rule_evaluations_statement", "statement_id", "evaluated_at"),
        # An institution's ingest statistics: its evaluations over a window (rules_0002).
        Index("ix_rule_evaluations_institution", "institution_key", "evaluated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    learner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    institution_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # statement (first processing) | reevaluation (new standards applied) | voided | held
    kind: Mapped[str] = mapped_column(String(16))
    standards_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    standards_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    standards_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recognised: Mapped[bool] = mapped_column(Boolean, default=False)
    unit_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    credited: Mapped[Decimal] = mapped_column(Credits, default=Decimal(0))
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    outcome_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # The engine's whole Evaluation (facts, gates, every rule, accumulation) as JSON.
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class HeldStatement(Base):
    """A statement whose actor is linked to no learner yet; processed when the link appears."""

    __tablename__ = "rule_held_statements"

    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    actor_ifi: Mapped[str] = mapped_column(Text, index=True)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
