"""One table for the three xAPI document resources.

A document is addressed by its kind plus the parameters of its resource:

* State: ``activityId`` + ``agent`` (+ ``registration``) + ``stateId``
* Activity Profile: ``activityId`` + ``profileId``
* Agent Profile: ``agent`` + ``profileId``

The address is hashed into ``doc_key`` (unique: one row per document, whatever the
NULLs) and the address without ``registration``/id into ``scope_key`` (listing ids
and deleting every state of an activity + agent). Hashes keep the indexes small
whatever the length of an IRI; the plain values are kept too.

Documents are per LRS, as the spec has it (any credential with the right scope sees
them); ``institution_id``/``credential_id`` record who wrote the current version.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.types import UTCDateTime


class DocumentKind(StrEnum):
    STATE = "state"
    ACTIVITY_PROFILE = "activity_profile"
    AGENT_PROFILE = "agent_profile"


class Document(Base):
    """A stored document: bytes exactly as sent, with their Content-Type."""

    __tablename__ = "lrs_documents"
    __table_args__ = (Index("ix_lrs_documents_scope_key_updated", "scope_key", "updated"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    doc_key: Mapped[str] = mapped_column(String(64), unique=True)
    scope_key: Mapped[str] = mapped_column(String(64))
    activity_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    agent_ifi: Mapped[str | None] = mapped_column(Text, nullable=True)
    registration: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    doc_id: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(255))
    #: Lowercase hex SHA-1 of ``content`` (quoted in the ETag header).
    etag: Mapped[str] = mapped_column(String(40))
    updated: Mapped[datetime] = mapped_column(UTCDateTime)
    institution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    credential_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
