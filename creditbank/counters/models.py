"""Counter deltas: one row per (counter, label) per writing transaction, folded later."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base


class Count(Base):
    """``n`` more of ``name`` / ``label`` (e.g. ``rules.decisions`` / ``statement:held``)."""

    __tablename__ = "counts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64))
    n: Mapped[int] = mapped_column(BigInteger)
