"""Conversion applications (转换申请), certifier reviews, consumed outcomes, the inbox.

``conversion_consumptions`` has the outcome id as its primary key: an outcome
used in an approved conversion can never be used in another, whatever the
concurrency (the second approval's INSERT fails on the key and answers 409).
``open_key`` is ``"<learner>:<rule>"`` while an application is open (pending or
appealed) and NULL otherwise; its unique constraint refuses a double submission.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.time import utc_now
from creditbank.kit.types import Credits, JSONType, UTCDateTime


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPEALED = "appealed"
    APPEAL_REJECTED = "appeal_rejected"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = frozenset({ApplicationStatus.PENDING.value, ApplicationStatus.APPEALED.value})


class ReviewStage(StrEnum):
    REVIEW = "review"
    APPEAL = "appeal"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ConversionApplication(Base):
    """A learner's request to convert outcomes under one conversion rule."""

    __tablename__ = "conversion_applications"
    __table_args__ = (
        CheckConstraint("credits > 0", name="credits_positive"),
        CheckConstraint("required_approvals >= 1", name="required_approvals_positive"),
        Index("ix_conversion_applications_learner", "learner_id", "created_at"),
        Index("ix_conversion_applications_queue", "status", "target_institution_key"),
        # The dashboard: applications submitted and decided per month (conversions_0002).
        Index("ix_conversion_applications_created", "created_at"),
        Index("ix_conversion_applications_decided", "decided_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    applicant_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[int] = mapped_column(Integer)
    standards_id: Mapped[str] = mapped_column(String(64))
    standards_version: Mapped[str] = mapped_column(String(64))
    standards_hash: Mapped[str] = mapped_column(String(64))
    programme: Mapped[str] = mapped_column(String(64))
    target_institution_key: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target_unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Target credits (the exempted unit's credits, or credits toward the programme).
    credits: Mapped[Decimal] = mapped_column(Credits)
    outcome_ids: Mapped[list[str]] = mapped_column(JSONType)
    source_units: Mapped[list[str]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=ApplicationStatus.PENDING)
    required_approvals: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appeal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    ledger_entry_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ConversionReview(Base):
    """One certifier's decision on an application, at the first review or on appeal."""

    __tablename__ = "conversion_reviews"
    __table_args__ = (
        UniqueConstraint(
            "application_id", "stage", "reviewer_id", name="uq_conversion_reviews_once_per_stage"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversion_applications.id", ondelete="RESTRICT"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    reviewer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    reviewer_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ConversionConsumption(Base):
    """An outcome spent by an approved conversion (primary key: spent once, ever)."""

    __tablename__ = "conversion_consumptions"

    outcome_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversion_applications.id", ondelete="RESTRICT"), index=True
    )
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class InboxMessage(Base):
    """A notification in the learner's portal inbox (bilingual)."""

    __tablename__ = "inbox_messages"
    __table_args__ = (Index("ix_inbox_messages_learner", "learner_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(64))
    subject_zh: Mapped[str] = mapped_column(String(300))
    subject_en: Mapped[str] = mapped_column(String(300))
    body_zh: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
