"""The statement store: one row per statement plus one key table for queries.

``lrs_statements`` keeps the full statement (as stored, JSONB on PostgreSQL) and
the single-valued fields in columns. ``seq`` is a gapless number assigned in
commit order (writers hold one lock from allocation to commit), so paging by
``seq`` never skips a statement that commits late.

On PostgreSQL ``lrs_statements`` is partitioned by ``stored`` month (migration
``lrs_0004``, ``creditbank/kit/partitions/``): primary key ``(seq, stored)``, a plain
index on ``id`` (the duplicate-id check runs under the append lock, which every writer
takes: ids stay unique across months); SQLite keeps the plain table declared here.

``lrs_statement_keys`` holds what the ``agent`` / ``activity`` / ``verb`` /
``registration`` filters match, one row per (hash of kind + value, statement): rows the
spec's plain filter matches have ``related = false``; rows only
``related_agents`` / ``related_activities`` match have ``related = true``. A
statement whose object is a StatementRef also carries its target's rows, which
is how "statements targeting a statement match the filters the target matches"
works without recursion at query time.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.types import JSONType, UTCDateTime

SeqType = BigInteger().with_variant(Integer(), "sqlite")
#: PostgreSQL: ``lrs_statements`` is range-partitioned on ``stored`` by month.
STATEMENT_PARTITIONS = "lrs_statements"


class KeyKind:
    """Values of ``lrs_statement_keys.kind``."""

    AGENT = "a"
    ACTIVITY = "c"
    VERB = "v"
    REGISTRATION = "r"


class Statement(Base):
    """A stored xAPI statement."""

    __tablename__ = "lrs_statements"
    __table_args__ = (
        Index("ix_lrs_statements_institution_seq", "institution_id", "seq"),
        Index("ix_lrs_statements_stored_seq", "stored", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    actor_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    verb_id: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str] = mapped_column(String(16))
    object_activity_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    object_statement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    registration: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    stored: Mapped[datetime] = mapped_column(UTCDateTime)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    institution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    credential_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    is_voiding: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[str] = mapped_column(String(16))
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class StatementKey(Base):
    """One value a statement matches in the agent / activity / verb / registration filters.

    ``key_hash`` is a 64-bit BLAKE2b of ``kind`` and value (see ``keys.key_hash``): the
    index holds two integers per row instead of long IRIs, which keeps ingest fast.

    On PostgreSQL the primary key's index also carries ``related`` and
    ``statement_stored`` (``INCLUDE``, migration ``lrs_0005``): a filtered page walks it
    as an index-only scan once the table is vacuumed, instead of reading one key-table
    heap page per candidate (the rows of one activity or agent are spread over the
    whole table). SQLite's rowid-less table is its primary key's B-tree: every column
    is in it already.
    """

    __tablename__ = "lrs_statement_keys"
    __table_args__ = (
        PrimaryKeyConstraint(
            "key_hash", "statement_seq", postgresql_include=["related", "statement_stored"]
        ),
        {"sqlite_with_rowid": False},
    )

    key_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    statement_seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    related: Mapped[bool] = mapped_column(Boolean, default=False)
    #: PostgreSQL: the statement's ``stored`` (its partition key), so the probe of a key's
    #: statement opens one month partition. NULL on SQLite (plain table, not needed).
    statement_stored: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AttachmentContent(Base):
    """The bytes of a statement attachment, stored once per SHA-2 digest.

    ``sha2`` is the lower-case hex digest as statements name it (SHA-224/256/384/512 by
    length); statements refer to it from their ``attachments`` metadata, so two
    statements carrying the same file share one row. Content is immutable: a digest
    names exactly one byte string.
    """

    __tablename__ = "lrs_attachments"

    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
