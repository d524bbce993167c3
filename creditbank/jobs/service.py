"""Enqueue jobs inside the caller's transaction; they commit or vanish with it.

Workers drain the table: :meth:`JobService.claim` leases due jobs (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), :meth:`complete` finishes one in the same
transaction as the job's own writes, :meth:`fail` schedules a retry with
exponential backoff or, after ``max_attempts``, turns the job into a dead letter
that an operator can list and :meth:`replay`. A lease that runs out (a worker
died mid-job) makes the job claimable again. Never commits: the worker does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import Conflict, NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.jobs.models import DONE_PARTITIONS, Job, JobStatus
from creditbank.jobs.repository import JobRepository, StatisticsRepository
from creditbank.kit.partitions import MONTHLY_PARTITIONED, MONTHS_AHEAD
from creditbank.kit.partitions.repository import PartitionRepository
from creditbank.kit.time import utc_now

#: The longest wait between two attempts, however many failed before.
MAX_BACKOFF = timedelta(hours=1)
#: Error texts are kept short enough to list.
MAX_ERROR_CHARS = 4000
#: The tables the hot paths query and the dashboard aggregates: their planner
#: statistics are kept fresh by the ``jobs.analyze_stale`` job.
HOT_TABLES = (
    "lrs_statements",
    "lrs_statement_keys",
    "rule_evaluations",
    "rule_outcomes",
    "rule_held_statements",
    "ledger_entries",
    "ledger_heads",
    "conversion_applications",
    "identity_links",
    "learners",
    "jobs",
    "audit_log",
    "reporting_learner_months",
)
#: Stale once more rows changed than ANALYZE_THRESHOLD + ANALYZE_SCALE x rows
#: (PostgreSQL's autovacuum_analyze_threshold and _scale_factor defaults).
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE = 0.1


@dataclass(frozen=True)
class Purged:
    """What :meth:`JobService.purge_done` removed."""

    #: Month partitions of done jobs detached and dropped (PostgreSQL).
    partitions: list[str]
    #: Rows deleted: SQLite's plain table, or PostgreSQL's done default partition.
    rows: int


@dataclass(frozen=True)
class ClaimedJob:
    """A job leased to one worker until ``locked_until``."""

    id: int
    name: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    locked_until: datetime


def affinity_key(value: str) -> str:
    """A job's ``affinity`` for ``value`` (e.g. ``learner:<id>``): a short one-way hash."""
    return hashlib.blake2b(value.encode(), digest_size=8).hexdigest()


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: base * 2^(n-1), capped."""
    seconds = base_seconds * (2 ** max(attempts - 1, 0))
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


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
        affinities: Sequence[str | None] | None = None,
    ) -> None:
        """Add many jobs with one multi-row INSERT (the ingest hot path).

        ``affinities`` (one per payload, see :func:`affinity_key`): PostgreSQL workers
        do not claim a job while another worker runs one of the same affinity.
        """
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
                "affinity": affinities[index] if affinities is not None else None,
            }
            for index, payload in enumerate(payloads)
        ]
        if rows:
            await JobRepository.from_session(session).insert_many(rows)

    async def park_many(
        self,
        session: AsyncSession,
        name: str,
        payloads: Iterable[Mapping[str, Any]],
        *,
        reason: str,
    ) -> None:
        """Add jobs straight to the dead letters with ``reason``: held for an operator to
        review (``GET /api/v1/jobs/dead``) and replay."""
        now = utc_now()
        rows = [
            {
                "name": name,
                "payload": dict(payload),
                "status": JobStatus.DEAD.value,
                "attempts": 0,
                "max_attempts": 8,
                "run_at": now,
                "created_at": now,
                "finished_at": now,
                "last_error": _clip(reason),
                "dedupe_key": None,
            }
            for payload in payloads
        ]
        if rows:
            await JobRepository.from_session(session).insert_many(rows)

    async def enqueue_unique(
        self,
        session: AsyncSession,
        name: str,
        payload: Mapping[str, Any],
        *,
        dedupe_key: str,
        run_at: datetime | None = None,
    ) -> bool:
        """Enqueue unless a job with ``dedupe_key`` exists (any status); True if added."""
        now = utc_now()
        row = {
            "name": name,
            "payload": dict(payload),
            "status": JobStatus.PENDING.value,
            "attempts": 0,
            "max_attempts": 8,
            "run_at": run_at or now,
            "created_at": now,
            "dedupe_key": dedupe_key,
        }
        return await JobRepository.from_session(session).insert_ignoring_duplicates([row]) > 0

    # -- the worker's side --------------------------------------------------------------

    async def claim(
        self,
        session: AsyncSession,
        *,
        worker_id: str,
        limit: int,
        lease: timedelta,
        now: datetime | None = None,
    ) -> list[ClaimedJob]:
        """Lease up to ``limit`` due jobs to ``worker_id``; commit before running them.

        A running job whose lease expired is taken over; if it has used all its
        attempts it becomes a dead letter instead ("lease expired").
        """
        now = now or utc_now()
        repo = JobRepository.from_session(session)
        candidates = await repo.claim_candidates(now=now, limit=limit)
        until = now + lease
        claimed: list[ClaimedJob] = []
        for job in candidates:
            if job.status == JobStatus.RUNNING.value and job.attempts >= job.max_attempts:
                await repo.set_state(
                    job.id,
                    status=JobStatus.DEAD.value,
                    finished_at=now,
                    locked_by=None,
                    locked_until=None,
                    last_error=_clip(
                        f"lease expired (worker {job.locked_by} stopped answering) "
                        f"after {job.attempts} attempts; last error: {job.last_error or '-'}"
                    ),
                )
                continue
            claimed.append(
                ClaimedJob(
                    id=job.id,
                    name=job.name,
                    payload=dict(job.payload),
                    attempts=job.attempts + 1,
                    max_attempts=job.max_attempts,
                    locked_until=until,
                )
            )
        await repo.lease([c.id for c in claimed], worker_id=worker_id, until=until, now=now)
        return claimed

    async def complete(self, session: AsyncSession, job_id: int) -> None:
        """Mark a job done; call it in the transaction that holds the job's own writes."""
        await JobRepository.from_session(session).set_state(
            job_id,
            status=JobStatus.DONE.value,
            finished_at=utc_now(),
            locked_by=None,
            locked_until=None,
        )

    async def complete_many(self, session: AsyncSession, job_ids: Sequence[int]) -> None:
        """Batch :meth:`complete` (one UPDATE), in the transaction of the jobs' writes."""
        await JobRepository.from_session(session).finish(job_ids, finished_at=utc_now())

    async def fail(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        error: str,
        *,
        backoff_base_seconds: float,
        permanent: bool = False,
        now: datetime | None = None,
    ) -> str:
        """Record a failed attempt: retry later (exponential backoff) or dead-letter it.

        Returns the job's new status. ``permanent`` dead-letters at once (e.g. no
        handler for the job's name: retrying cannot help).
        """
        now = now or utc_now()
        repo = JobRepository.from_session(session)
        if permanent or job.attempts >= job.max_attempts:
            await repo.set_state(
                job.id,
                status=JobStatus.DEAD.value,
                finished_at=now,
                locked_by=None,
                locked_until=None,
                last_error=_clip(error),
            )
            return JobStatus.DEAD.value
        await repo.set_state(
            job.id,
            status=JobStatus.PENDING.value,
            run_at=now + backoff(job.attempts, backoff_base_seconds),
            locked_by=None,
            locked_until=None,
            last_error=_clip(error),
        )
        return JobStatus.PENDING.value

    async def release(self, session: AsyncSession, job: ClaimedJob) -> None:
        """Give back a claimed job not yet started (the worker is stopping)."""
        await JobRepository.from_session(session).set_state(
            job.id,
            status=JobStatus.PENDING.value,
            attempts=job.attempts - 1,
            locked_by=None,
            locked_until=None,
        )

    # -- the operator's side (authorized: "jobs.read" / "jobs.replay") --------------------

    async def dead_letters(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        name: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Job]:
        """Dead jobs, newest first, with the reason in ``last_error``."""
        authz.authorize(principal, "jobs.read")
        return await JobRepository.from_session(session).list_by_status(
            JobStatus.DEAD.value, name=name, limit=limit, before_id=before_id
        )

    async def get(self, session: AsyncSession, principal: Principal, job_id: int) -> Job:
        authz.authorize(principal, "jobs.read")
        job = await JobRepository.from_session(session).get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}", code="job_not_found")
        return job

    async def replay(self, session: AsyncSession, principal: Principal, job_id: int) -> Job:
        """Put a dead letter back in the queue with fresh attempts (its last error is kept)."""
        authz.authorize(principal, "jobs.replay")
        repo = JobRepository.from_session(session)
        job = await repo.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}", code="job_not_found")
        if job.status != JobStatus.DEAD.value:
            raise Conflict(
                f"job {job_id} is {job.status}; only dead letters can be replayed",
                code="job_not_dead",
            )
        await repo.set_state(
            job_id,
            status=JobStatus.PENDING.value,
            attempts=0,
            run_at=utc_now(),
            finished_at=None,
            locked_by=None,
            locked_until=None,
        )
        replayed = await repo.get(job_id)
        return replayed if replayed is not None else job

    async def replay_all(
        self, session: AsyncSession, principal: Principal, *, name: str | None = None
    ) -> list[int]:
        """Replay every dead letter (of ``name``); returns their ids."""
        authz.authorize(principal, "jobs.replay")
        repo = JobRepository.from_session(session)
        ids = await repo.ids_by_status(JobStatus.DEAD.value, name=name)
        for job_id in ids:
            await repo.set_state(
                job_id,
                status=JobStatus.PENDING.value,
                attempts=0,
                run_at=utc_now(),
                finished_at=None,
                locked_by=None,
                locked_until=None,
            )
        return ids

    async def stats(self, session: AsyncSession, principal: Principal) -> dict[str, dict[str, int]]:
        """Job counts by name and status."""
        authz.authorize(principal, "jobs.read")
        out: dict[str, dict[str, int]] = {}
        for (name, status), count in (await JobRepository.from_session(session).counts()).items():
            out.setdefault(name, {})[status] = count
        return out

    async def oldest_due_age(
        self, session: AsyncSession, principal: Principal, *, now: datetime | None = None
    ) -> dict[str, float]:
        """Per job name, how long (seconds) its oldest due job has waited: the queue's lag."""
        authz.authorize(principal, "jobs.read")
        now = now or utc_now()
        found = await JobRepository.from_session(session).oldest_due(now)
        return {name: max((now - at).total_seconds(), 0.0) for name, at in found.items()}

    async def purge_done(
        self, session: AsyncSession, *, older_than: timedelta, now: datetime | None = None
    ) -> Purged:
        """Remove done jobs finished more than ``older_than`` ago (dead letters are kept).

        PostgreSQL: detach and drop each month partition of done jobs that ended before
        the cutoff (no DELETE, no dead tuples), so a done job is kept ``older_than`` at
        least and until its whole month has passed the cutoff; rows stranded in the
        default partition are deleted. SQLite: one DELETE.
        """
        cutoff = (now or utc_now()) - older_than
        repo = JobRepository.from_session(session)
        if repo.dialect != "postgresql":
            return Purged(partitions=[], rows=await repo.delete_done_before(cutoff))
        dropped = await PartitionRepository.from_session(session).drop_months_before(
            DONE_PARTITIONS, cutoff
        )
        return Purged(partitions=dropped, rows=await repo.delete_stranded_done_before(cutoff))

    async def ensure_partitions(
        self, session: AsyncSession, *, now: datetime | None = None, ahead: int = MONTHS_AHEAD
    ) -> list[str]:
        """Create the month partitions of this month and ``ahead`` months after it
        (PostgreSQL; nothing on SQLite); returns the partitions created."""
        partitions = PartitionRepository.from_session(session)
        created: list[str] = []
        for parent, column in MONTHLY_PARTITIONED:
            created += await partitions.ensure_months(
                parent, column, now=now or utc_now(), ahead=ahead
            )
        return created

    async def analyze_stale(
        self,
        session: AsyncSession,
        *,
        tables: Sequence[str] = HOT_TABLES,
        threshold: int = ANALYZE_THRESHOLD,
        scale: float = ANALYZE_SCALE,
    ) -> list[str]:
        """ANALYZE each of ``tables`` whose statistics are stale; returns those analyzed.

        Stale, as autovacuum reckons it: never analyzed while holding rows, or more
        rows changed since the last ANALYZE than ``threshold + scale * rows``. The
        product must not depend on autovacuum (off on this machine's and CI's
        PostgreSQL) or on someone running ANALYZE after a bulk load (issue 14).
        """
        repo = StatisticsRepository.from_session(session)
        analyzed: list[str] = []
        for stats in await repo.staleness(tables):
            never = not stats.analyzed and stats.modified > 0
            if never or stats.modified > threshold + scale * stats.rows:
                await repo.analyze(stats.table)
                analyzed.append(stats.table)
        return analyzed


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


jobs = JobService()
