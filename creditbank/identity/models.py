"""Institutions, LRS credentials, learners, identity links, users, roles and sessions.

Columns holding personal data end in ``_enc`` (AES-GCM ciphertext, see
``creditbank.kit.crypto``) or ``_index`` (keyed HMAC blind index); every column
is labelled in ``creditbank.identity.classification``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
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
    # The xAPI version its client speaks ("1.0.3" / "2.0.0"); None: the server default.
    # Only used to state a version on answers to requests that name none.
    xapi_version: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    institution: Mapped[Institution] = relationship(back_populates="credentials", lazy="raise")


class Role(StrEnum):
    LEARNER = "learner"
    INSTITUTION_ADMIN = "institution_admin"
    CERTIFIER = "certifier"
    OPERATOR = "operator"


class Learner(Base):
    """A learner's bank account (学分银行账户); personal fields encrypted at rest."""

    __tablename__ = "learners"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    bank_id: Mapped[str] = mapped_column(String(32), unique=True)
    name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    national_id_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    national_id_index: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    email_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdentityLink(Base):
    """An xAPI inverse functional identifier that belongs to one learner."""

    __tablename__ = "identity_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), index=True
    )
    # Canonical IFI key ("account:<homePage>|<name>", "mbox:mailto:...", ...): one learner each.
    ifi: Mapped[str] = mapped_column(String(1024), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institutions.id", ondelete="RESTRICT"), nullable=True
    )
    # How it was made: consent (institution + learner's code), national_id (bulk), operator.
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ConsentCode(Base):
    """A single-use, expiring code a learner gives an institution to link her account."""

    __tablename__ = "consent_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Optionally restricted to one institution.
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institutions.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by_institution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class User(Base):
    """Someone who signs in: a learner, an institution admin, a certifier, an operator."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    learner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("learners.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    grants: Mapped[list[RoleGrant]] = relationship(back_populates="user", lazy="raise")


class RoleGrant(Base):
    """A role of a user, scoped to an institution and/or a programme where the role needs it."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "institution_id", "programme", name="uq_role_grants"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institutions.id", ondelete="CASCADE"), nullable=True
    )
    programme: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    user: Mapped[User] = relationship(back_populates="grants", lazy="raise")
    institution: Mapped[Institution | None] = relationship(lazy="raise")


class RefreshToken(Base):
    """A refresh token (stored hashed); rotated on use, a reused one revokes its family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginAttempt(Base):
    """One password attempt, for the per-address rate limit."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_ip_at", "ip", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ip: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(100))
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
