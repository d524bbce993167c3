"""The dashboard's rollups: aggregates of the other contexts' rows, kept by a job.

``reporting.rollup`` (every ten minutes, ``workers/scheduler.py``) folds everything
dated before its watermark ``through`` (``reporting_rollups``) into these tables; the
dashboard reads them and the state row in one statement, and adds a live query of
the rows dated from ``through`` on. Nothing here is written on the ingest path or in
the rules batch: one writer, the job, holding the state row's lock.

- ``reporting_outcome_months``: credits and outcomes recognised per month and
  institution key (grouped by type and region when read, so a changed institution
  regroups its history as the live query would);
- ``reporting_statement_days``: statements stored per day;
- ``reporting_learner_months``: one row per learner and month with a ledger entry
  (distinct counts do not add up across periods; these rows make the month's count
  exact and let the live tail skip learners already counted);
- ``reporting_active_months``: the count of those rows per month.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.types import UTCDateTime

#: The state row's name.
DASHBOARD = "dashboard"


class Rollup(Base):
    """A rollup's watermark: every source row dated before ``through`` is folded in."""

    __tablename__ = "reporting_rollups"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    through: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutcomeMonth(Base):
    __tablename__ = "reporting_outcome_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    institution_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Integer hundredths of a credit (summed as stored).
    credits: Mapped[int] = mapped_column(BigInteger)
    outcomes: Mapped[int] = mapped_column(BigInteger)


class StatementDay(Base):
    __tablename__ = "reporting_statement_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    statements: Mapped[int] = mapped_column(BigInteger)


class LearnerMonth(Base):
    __tablename__ = "reporting_learner_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    learner_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    #: Her first ledger entry of the month the job saw.
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ActiveMonth(Base):
    __tablename__ = "reporting_active_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    learners: Mapped[int] = mapped_column(Integer)
