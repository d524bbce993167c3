"""A transcript as issued: the credential's exact bytes and its VC-JWT, never rebuilt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
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
from creditbank.kit.types import JSONType, UTCDateTime


class Transcript(Base):
    """One issued transcript (学习成果证明) of a learner as of a moment."""

    __tablename__ = "transcripts"
    __table_args__ = (Index("ix_transcripts_learner_issued", "learner_id", "issued_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    #: ``credentialSubject.id``: pseudonymous, never a national ID.
    subject_id: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The moment the ledger, outcomes and conversions were read at.
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    alg: Mapped[str] = mapped_column(String(16))
    #: The signing facility's key id (the JOSE ``kid`` is its URL).
    kid: Mapped[str] = mapped_column(String(64))
    #: The credential as signed (canonical JSON text, the VC-JWT payload's bytes).
    credential: Mapped[str] = mapped_column(Text)
    vc_jwt: Mapped[str] = mapped_column(Text)
    #: The same payload with ``typ: vc+jwt`` (W3C VC-JOSE-COSE).
    vc_jose: Mapped[str] = mapped_column(Text)
    outcome_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    #: The detached SM2 proof over the VC-JWT's signing input (transcripts.sm2), or None.
    sm2: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True, default=None)
    #: The SD-JWT VC (ES256) of the same credential with every disclosure.
    sd_jwt: Mapped[str | None] = mapped_column(Text, nullable=True)


class TranscriptShare(Base):
    """One selectively disclosed share of a transcript (an SD-JWT VC presentation):
    what the learner chose to show, to whom, until when; revoked by her or the operator.
    """

    __tablename__ = "transcript_shares"
    __table_args__ = (Index("ix_transcript_shares_transcript", "transcript_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    transcript_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("transcripts.id", ondelete="CASCADE")
    )
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    audience: Mapped[str | None] = mapped_column(String(500), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: What is disclosed: {"outcomes": [unit codes], "conversions": [...], "personal": [...]}.
    disclosed: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: The issuer-signed JWT (its jti the share's URN) with the chosen disclosures, ``~``.
    sd_jwt: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))
    key_bound: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    #: Suspended on its own (not through its transcript) since then, by whom; lifting
    #: the transcript's suspension leaves such a share suspended.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    suspended_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class TranscriptOutcome(Base):
    """Which outcomes a transcript contains: revoking an outcome finds its transcripts here."""

    __tablename__ = "transcript_outcomes"

    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), primary_key=True
    )
    outcome_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)


class StatusList(Base):
    """One Bitstring Status List (published at ``/status/{id}``) of one purpose.

    The bits are not stored: they are the entries whose ``is_set`` is true, so a change
    touches one entry row and bumps ``version`` (the published credential is re-signed
    when the version it was signed at is no longer the list's).
    """

    __tablename__ = "transcript_status_lists"
    __table_args__ = (Index("ix_transcript_status_lists_purpose_open", "purpose", "allocated"),)

    #: Random (not a sequence): the URL reveals nothing about how many lists exist.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusEntry(Base):
    """One allocated index of a status list, held by a transcript or by one of its shares."""

    __tablename__ = "transcript_status_entries"
    __table_args__ = (UniqueConstraint("list_id", "index"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    list_id: Mapped[str] = mapped_column(
        ForeignKey("transcript_status_lists.id", ondelete="RESTRICT")
    )
    index: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16))
    #: The transcript the entry belongs to (for a share's entry too: revoking the
    #: transcript revokes its shares).
    transcript_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    #: The share holding the entry, or None for the transcript's own.
    share_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    is_set: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
