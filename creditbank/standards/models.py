"""Published standards versions: immutable rows holding the whole set as canonical JSON."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.time import utc_now
from creditbank.kit.types import JSONType, UTCDateTime


class StandardsVersion(Base):
    """One published version of a standards set (framework, catalog, rules, policy).

    Never updated once written (a trigger refuses UPDATE on both dialects); a
    change is a new version. ``content`` is the set as JSON and ``content_hash`` the
    sha256 of its canonical form, checked again whenever the set is loaded.
    """

    __tablename__ = "standards_versions"
    __table_args__ = (
        UniqueConstraint("set_id", "version"),
        Index("ix_standards_versions_in_force", "effective_from", "published_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    set_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[date] = mapped_column(Date)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    published_by: Mapped[str] = mapped_column(String(200))
