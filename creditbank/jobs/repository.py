"""Every query of the job table (claim with leases, finish, retry, dead letters) and of
the planner statistics the maintenance job keeps fresh."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.jobs.models import DONE_PARTITIONS, Job, JobStatus
from creditbank.kit.partitions import default_partition

DONE_DEFAULT = default_partition(DONE_PARTITIONS)

JOBS: Table = Job.__table__  # type: ignore[assignment]


class Candidate(NamedTuple):
    """A job a claim may lease: what the claim reads of it."""

    id: int
    name: str
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    locked_by: str | None
    last_error: str | None


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> JobRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """One multi-row INSERT (executemany); the ingest hot path enqueues through it.

        Core on the table, not the ORM's bulk path: no per-row ORM bookkeeping."""
        if rows:
            await self.session.execute(insert(JOBS), list(rows))

    async def insert_ignoring_duplicates(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows; a row whose ``dedupe_key`` exists already is skipped (no error).

        PostgreSQL: the unique ``dedupe_key`` is the live partition's (``jobs_open``), so a
        done job's key, in a month partition, is looked for as well, in the same INSERT:
        its snapshot sees the job either live or done (finishing moves it atomically),
        and two inserts of one new key meet on the unique index.
        """
        if not rows:
            return 0
        if self.dialect == "postgresql":
            added = 0
            table = Job.__table__
            for row in rows:
                names = list(row)
                values = select(
                    *[literal(row[name], type_=table.c[name].type).label(name) for name in names]
                )
                if row.get("dedupe_key") is not None:
                    values = values.where(~exists().where(Job.dedupe_key == row["dedupe_key"]))
                pg = (
                    pg_insert(Job)
                    .from_select([table.c[name] for name in names], values)
                    .on_conflict_do_nothing()
                )
                result = await self.session.execute(pg)
                added += int(getattr(result, "rowcount", 0) or 0)
            return added
        else:
            lite = sqlite_insert(Job).values(list(rows)).on_conflict_do_nothing()
            result = await self.session.execute(lite)
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim_candidates(self, *, now: datetime, limit: int) -> list[Candidate]:
        """Due pending jobs and running jobs whose lease ran out, oldest first.

        PostgreSQL locks the rows ``FOR UPDATE SKIP LOCKED`` so concurrent workers
        take disjoint sets, and leaves the jobs whose ``affinity`` a running job (of
        another worker, under a live lease) has: two workers' batches then hold
        disjoint learners instead of waiting for each other's (claims at the same
        instant may still overlap; the job bodies' locks settle that). SQLite write
        transactions are serialised anyway. The columns a claim needs, not ORM
        objects: a worker claims 200 at a time.
        """
        query = (
            select(
                Job.id,
                Job.name,
                Job.payload,
                Job.status,
                Job.attempts,
                Job.max_attempts,
                Job.locked_by,
                Job.last_error,
            )
            .where(
                or_(
                    and_(Job.status == JobStatus.PENDING.value, Job.run_at <= now),
                    and_(Job.status == JobStatus.RUNNING.value, Job.locked_until < now),
                )
            )
            .order_by(Job.run_at, Job.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            busy = select(Job.affinity).where(
                Job.status == JobStatus.RUNNING.value,
                Job.locked_until >= now,
                Job.affinity.is_not(None),
            )
            query = query.where(
                or_(Job.affinity.is_(None), Job.affinity.not_in(busy))
            ).with_for_update(skip_locked=True)
        result = await self.session.execute(query)
        return [Candidate(*row) for row in result]

    async def lease(
        self, ids: Sequence[int], *, worker_id: str, until: datetime, now: datetime
    ) -> None:
        if not ids:
            return
        await self.session.execute(
            update(Job)
            .where(Job.id.in_(ids))
            .values(
                status=JobStatus.RUNNING.value,
                locked_by=worker_id,
                locked_until=until,
                attempts=Job.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )

    async def finish(self, ids: Sequence[int], *, finished_at: datetime) -> None:
        """Mark jobs done (one UPDATE)."""
        if not ids:
            return
        await self.session.execute(
            update(Job)
            .where(Job.id.in_(list(ids)))
            .values(
                status=JobStatus.DONE.value,
                finished_at=finished_at,
                locked_by=None,
                locked_until=None,
            )
            .execution_options(synchronize_session=False)
        )

    async def set_state(self, job_id: int, **values: Any) -> int:
        result = await self.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def get(self, job_id: int) -> Job | None:
        result = await self.session.execute(
            select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def list_by_status(
        self,
        status: str,
        *,
        name: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Job]:
        query = select(Job).where(Job.status == status)
        if name is not None:
            query = query.where(Job.name == name)
        if before_id is not None:
            query = query.where(Job.id < before_id)
        result = await self.session.execute(query.order_by(Job.id.desc()).limit(limit))
        return list(result.scalars())

    async def ids_by_status(self, status: str, *, name: str | None = None) -> list[int]:
        query = select(Job.id).where(Job.status == status)
        if name is not None:
            query = query.where(Job.name == name)
        result = await self.session.execute(query.order_by(Job.id))
        return list(result.scalars())

    async def counts(self) -> dict[tuple[str, str], int]:
        result = await self.session.execute(
            select(Job.name, Job.status, func.count()).group_by(Job.name, Job.status)
        )
        return {(name, status): int(count) for name, status, count in result.all()}

    async def oldest_due(self, now: datetime) -> dict[str, datetime]:
        """Per job name, the ``run_at`` of its oldest pending job that is due."""
        result = await self.session.execute(
            select(Job.name, func.min(Job.run_at))
            .where(Job.status == JobStatus.PENDING.value, Job.run_at <= now)
            .group_by(Job.name)
        )
        return {str(name): at for name, at in result.all() if at is not None}

    async def delete_done_before(self, cutoff: datetime) -> int:
        """SQLite (a plain table): DELETE done jobs finished before ``cutoff``."""
        result = await self.session.execute(
            delete(Job).where(Job.status == JobStatus.DONE.value, Job.finished_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_stranded_done_before(self, cutoff: datetime) -> int:
        """PostgreSQL: DELETE from the done default partition (the safety net, normally
        empty) the rows finished before ``cutoff``; month partitions are dropped whole."""
        result = await self.session.execute(
            text(f"DELETE FROM {DONE_DEFAULT} WHERE finished_at < :cutoff"),  # noqa: S608
            {"cutoff": cutoff},
        )
        return int(getattr(result, "rowcount", 0) or 0)


class StatisticsRepository:
    """Planner statistics of the hot tables: how stale they are, and ANALYZE.

    The tables are other contexts' (named, never read row by row): keeping the
    planner's statistics fresh is the database's housekeeping, which the job table
    runs for everyone.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> StatisticsRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _quoted(self, table: str) -> str:
        return self.session.get_bind().dialect.identifier_preparer.quote(table)

    async def staleness(self, tables: Sequence[str]) -> list[TableStatistics]:
        """Rows changed since the last ANALYZE and the rows the planner believes in."""
        if self.dialect == "postgresql":
            # A partitioned table (statements, jobs) keeps no counts of its own: sum its
            # leaf partitions'. ANALYZE of the parent analyzes every partition.
            result = await self.session.execute(
                text(
                    "SELECT p.relname, sum(coalesce(s.n_mod_since_analyze, 0)), "
                    "sum(greatest(c.reltuples, 0)), "
                    "bool_or(coalesce(s.last_analyze, s.last_autoanalyze) IS NOT NULL) "
                    "FROM pg_class p "
                    "JOIN pg_namespace n ON n.oid = p.relnamespace "
                    "AND n.nspname = current_schema() "
                    "LEFT JOIN LATERAL pg_partition_tree(p.oid) t ON t.isleaf "
                    "JOIN pg_class c ON c.oid = coalesce(t.relid, p.oid) "
                    "JOIN pg_stat_user_tables s ON s.relid = c.oid "
                    "WHERE p.relname = ANY(:tables) AND p.relkind IN ('r', 'p') "
                    "GROUP BY p.relname"
                ),
                {"tables": list(tables)},
            )
            return [
                TableStatistics(str(r[0]), int(r[1] or 0), max(float(r[2] or 0), 0.0), bool(r[3]))
                for r in result.all()
            ]
        # SQLite: sqlite_stat1 holds the row count ANALYZE saw (the first number of each
        # index's stat; ``stat`` alone for a table without indexes).
        existing = {
            str(r[0])
            for r in await self.session.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
        }
        seen: dict[str, float] = {}
        if "sqlite_stat1" in existing:
            for name, stat in await self.session.execute(
                text("SELECT tbl, stat FROM sqlite_stat1")
            ):
                head = str(stat or "").split(" ", 1)[0]
                if head.isdigit():
                    seen[str(name)] = max(seen.get(str(name), 0.0), float(head))
        out: list[TableStatistics] = []
        for table in tables:
            if table not in existing:
                continue
            rows = (
                await self.session.execute(text(f"SELECT count(*) FROM {self._quoted(table)}"))  # noqa: S608
            ).scalar_one()
            believed = seen.get(table)
            out.append(
                TableStatistics(
                    table,
                    abs(int(rows) - int(believed or 0)),
                    believed or 0.0,
                    believed is not None,
                )
            )
        return out

    async def analyze(self, table: str) -> None:
        await self.session.execute(text(f"ANALYZE {self._quoted(table)}"))


@dataclass(frozen=True)
class TableStatistics:
    table: str
    #: Rows inserted, updated or deleted since the statistics were taken.
    modified: int
    #: The row count the statistics record (0 when never analyzed).
    rows: float
    analyzed: bool
