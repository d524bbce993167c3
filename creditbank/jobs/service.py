"""Enqueue jobs inside the caller's transaction; they commit or vanish with it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.jobs.models import Job, JobStatus
from creditbank.kit.time import utc_now


class JobService:
    """The outbox: writers enqueue, ``workers/`` drains."""

    async def enqueue(
        self,
        session: AsyncSession,
        name: str,
        payload: Mapping[str, Any],
        *,
        run_at: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> None:
        """Add one job to the current transaction."""
        await self.enqueue_many(session, name, [payload], run_at=run_at, dedupe_key=dedupe_key)

    async def enqueue_many(
        self,
        session: AsyncSession,
        name: str,
        payloads: Iterable[Mapping[str, Any]],
        *,
        run_at: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> None:
        """Add many jobs with one multi-row INSERT (the ingest hot path)."""
        now = utc_now()
        rows = [
            {
                "name": name,
                "payload": dict(payload),
                "status": JobStatus.PENDING.value,
                "attempts": 0,
                "max_attempts": 8,
                "run_at": run_at or now,
                "created_at": now,
                "dedupe_key": dedupe_key,
            }
            for payload in payloads
        ]
        if rows:
            await session.execute(insert(Job), rows)


jobs = JobService()
