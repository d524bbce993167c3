"""An uploaded file and what became of it (``import_batches``).

The file is kept with its mapping from preview to commit, so the commit imports
exactly what was previewed (it is parsed again, never trusted from the client).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.time import utc_now
from creditbank.kit.types import JSONType, UTCDateTime


class ImportStatus(StrEnum):
    PREVIEW = "preview"
    COMMITTED = "committed"


class ImportBatch(Base):
    __tablename__ = "import_batches"
    __table_args__ = (
        Index("ix_import_batches_institution_created", "institution_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    institution_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    institution_key: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(16), nullable=True)
    mapping: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.PREVIEW)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    valid: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_rows: Mapped[int] = mapped_column(Integer, default=0)
    # Preview: how the valid rows stand against what is stored.
    new: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    # The first errors (row, column, value, code, message) and conflicting rows.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    conflict_rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # After commit: {"created": n, "unchanged": n, "conflicts": n}.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
