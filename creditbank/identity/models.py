"""Institutions and their LRS credentials (learners and users join them later)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from creditbank.db import Base
from creditbank.kit.time import utc_now
from creditbank.kit.types import JSONType, UTCDateTime


class InstitutionType(StrEnum):
    VOCATIONAL = "vocational"
    COMMUNITY = "community"
    SENIOR = "senior"
    MOOC = "mooc"
    DEGREE = "degree"
    TRAINING = "training"
    EMPLOYER = "employer"


class Institution(Base):
    """An institution (机构) that pushes learning records or reviews conversions."""

    __tablename__ = "institutions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200), nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    home_pages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    accredited: Mapped[bool] = mapped_column(Boolean, default=False)
    accredited_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accredited_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Which catalog categories / learning units it may award: {"categories": [...], "units": [...]}
    accreditation_scope: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    credentials: Mapped[list[LrsCredential]] = relationship(
        back_populates="institution", lazy="raise"
    )


class LrsCredential(Base):
    """An xAPI credential (key + secret) bound to one institution and to scopes.

    Secrets are 256-bit random values, so a keyed SHA-256 is as strong as a slow
    password hash here and costs microseconds on every xAPI request.
    """

    __tablename__ = "lrs_credentials"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institutions.id", ondelete="RESTRICT"), index=True
    )
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    institution: Mapped[Institution] = relationship(back_populates="credentials", lazy="raise")
