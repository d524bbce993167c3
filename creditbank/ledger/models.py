"""The credit ledger: append-only, hash-chained entries per learner, plus projections.

``ledger_entries`` is the book of record. Each learner's entries form a chain with
a gapless sequence (``unique (learner_id, seq)``); an entry stores its signed
effect on the learner's figures (``delta_*``), the running totals after it (so a
balance "as of" any time is one indexed row, never a sum over the world) and a
SHA-256 hash over its canonical content and the previous entry's hash. The
application never updates or deletes an entry; on PostgreSQL a trigger refuses
it. Corrections are new entries (reversals, adjustments).

``ledger_heads`` (one row per learner: the chain head, locked while posting) and
``ledger_positions`` (what remains of each outcome's credits) are projections of
the entries, rebuilt and checked by ``ledger verify``. ``ledger_checkpoints``
holds signed Merkle roots over every chain head.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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

GENESIS_HASH = "0" * 64


class EntryKind(StrEnum):
    DEPOSIT = "deposit"
    EXPIRY = "expiry"
    REVERSAL = "reversal"
    CONVERSION = "conversion"
    ADJUSTMENT = "adjustment"


class LedgerEntry(Base):
    """One posting in a learner's chain (never updated, never deleted)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("learner_id", "seq", name="uq_ledger_entries_learner_seq"),
        Index("ix_ledger_entries_learner_posted", "learner_id", "posted_at", "seq"),
        # The dashboard's learners active per month: a range on posted_at (ledger_0002).
        Index("ix_ledger_entries_posted", "posted_at", "learner_id"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("banked >= 0", name="banked_not_negative"),
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("converted >= 0", name="converted_not_negative"),
        CheckConstraint("expired >= 0", name="expired_not_negative"),
        CheckConstraint(
            "banked = available + converted", name="banked_is_available_plus_converted"
        ),
        CheckConstraint(
            "kind IN ('deposit', 'expiry', 'reversal', 'conversion', 'adjustment')",
            name="kind_known",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    # The magnitude moved; the direction is in the deltas.
    amount: Mapped[Decimal] = mapped_column(Credits)
    delta_available: Mapped[Decimal] = mapped_column(Credits)
    delta_converted: Mapped[Decimal] = mapped_column(Credits)
    delta_expired: Mapped[Decimal] = mapped_column(Credits)
    # Running totals after this entry (banked = available + converted).
    banked: Mapped[Decimal] = mapped_column(Credits)
    available: Mapped[Decimal] = mapped_column(Credits)
    converted: Mapped[Decimal] = mapped_column(Credits)
    expired: Mapped[Decimal] = mapped_column(Credits)
    # Running totals by category and by level: {"category": {name: {...}}, "level": {...}}.
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The outcomes moved: [{outcome_id, unit_code, category, level, amount}, ...].
    legs: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    outcome_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    unit_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    standards_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    statement_ids: Mapped[list[str]] = mapped_column(JSONType)
    conversion_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Conversions: what the learner got on the target side.
    target: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """A learner's chain head; its row lock serialises postings for that learner."""

    __tablename__ = "ledger_heads"

    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class LedgerPosition(Base):
    """What remains of one outcome's credits (projection of the entries naming it)."""

    __tablename__ = "ledger_positions"
    __table_args__ = (
        CheckConstraint("deposited > 0", name="deposited_positive"),
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("converted >= 0", name="converted_not_negative"),
        CheckConstraint("expired >= 0", name="expired_not_negative"),
        CheckConstraint("reversed >= 0", name="reversed_not_negative"),
    )

    outcome_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deposited: Mapped[Decimal] = mapped_column(Credits)
    available: Mapped[Decimal] = mapped_column(Credits)
    converted: Mapped[Decimal] = mapped_column(Credits)
    expired: Mapped[Decimal] = mapped_column(Credits)
    reversed: Mapped[Decimal] = mapped_column(Credits)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class LedgerCheckpoint(Base):
    """A signed Merkle root over every learner's chain head at one moment."""

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (CheckConstraint("entry_count >= 0", name="entry_count_not_negative"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    root: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(BigInteger)
    learner_count: Mapped[int] = mapped_column(Integer)
    # The signed statement (canonical JSON) and its detached Ed25519 signature.
    statement: Mapped[dict[str, Any]] = mapped_column(JSONType)
    kid: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))
    # [[learner_id, seq, head_hash], ...] sorted by learner id: the Merkle leaves.
    leaves: Mapped[list[list[Any]]] = mapped_column(JSONType)
