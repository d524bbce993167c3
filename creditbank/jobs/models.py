"""The durable job table (an outbox written in the business transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from creditbank.db import Base
from creditbank.kit.time import utc_now
from creditbank.kit.types import JSONType, UTCDateTime


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


#: PostgreSQL: the partition of ``jobs`` holding the done rows, itself partitioned by
#: ``finished_at`` month (``jobs_done_YYYY_MM``, ``jobs_done_default``).
DONE_PARTITIONS = "jobs_done"


class Job(Base):
    """One unit of background work; claimed by workers, retried, dead-lettered.

    On PostgreSQL the table is partitioned (migration ``foundation_0002``):
    ``PARTITION BY LIST (status)`` with ``jobs_open`` (DEFAULT: pending, running, dead)
    carrying the primary key, the unique ``dedupe_key`` and the claim index, and
    ``jobs_done`` (``'done'``) ``PARTITION BY RANGE (finished_at)``, one partition per
    month, dropped whole by ``jobs.purge_done``. Finishing a job moves its row from
    ``jobs_open`` into its month. SQLite keeps this plain table as declared here.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim query: pending jobs due now, oldest first.
        Index("ix_jobs_claim", "status", "run_at", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A job enqueued twice under one key runs once (e.g. re-processing a statement).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    trace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Jobs of one affinity (a hash: e.g. one learner's statements) are not claimed while
    # another worker runs one of them, so concurrent batches do not contend for her.
    affinity: Mapped[str | None] = mapped_column(String(32), nullable=True)
