"""Done jobs by month: PostgreSQL partitions created ahead, retention by dropping whole
months, claims on the live partition only; SQLite keeps the plain table (DELETE)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from creditbank.db import Database
from creditbank.jobs.models import Job, JobStatus
from creditbank.jobs.repository import JobRepository
from creditbank.jobs.service import jobs as jobs_service
from creditbank.kit.partitions import add_months, month_start
from creditbank.kit.partitions.repository import PartitionRepository
from creditbank.kit.time import utc_now
from workers import scheduler


def _done(finished_at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "name": "t.part",
        "payload": {},
        "status": JobStatus.DONE.value,
        "attempts": 1,
        "max_attempts": 8,
        "run_at": finished_at,
        "created_at": finished_at,
        "finished_at": finished_at,
        "dedupe_key": None,
        **extra,
    }


async def _where(db: Database) -> dict[int, str]:
    """job id -> the partition holding it."""
    async with db.read_scope() as session:
        rows = await session.execute(text("SELECT id, tableoid::regclass::text FROM jobs"))
        return {int(r[0]): str(r[1]) for r in rows}


async def _drop(session: Any, parent: str, name: str) -> None:
    await session.execute(text(f"ALTER TABLE {parent} DETACH PARTITION {name}"))
    await session.execute(text(f"DROP TABLE {name}"))


def _pg_only(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("partitions are PostgreSQL's")


async def test_a_finished_job_moves_to_its_month_and_claims_read_only_live_rows(db: Database):
    _pg_only(db)
    async with db.session_scope() as session:
        await jobs_service.enqueue_many(session, "t.part", [{"n": 1}, {"n": 2}])
    async with db.session_scope() as session:
        claimed = await jobs_service.claim(
            session, worker_id="w", limit=10, lease=timedelta(seconds=30)
        )
    async with db.session_scope() as session:
        await jobs_service.complete_many(session, [claimed[0].id])
    now = utc_now()
    where = await _where(db)
    assert where[claimed[0].id] == f"jobs_done_{now.year:04d}_{now.month:02d}"
    assert where[claimed[1].id] == "jobs_open"
    async with db.read_scope() as session:
        # The claim query is pruned to the live partition: done months are never read.
        query = JobRepository.from_session(session)
        compiled = (
            select(Job)
            .where(
                ((Job.status == "pending") & (Job.run_at <= now))
                | ((Job.status == "running") & (Job.locked_until < now))
            )
            .order_by(Job.run_at, Job.id)
            .limit(10)
            .with_for_update(skip_locked=True)
            .compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        )
        plan = "\n".join(
            str(r[0]) for r in await query.session.execute(text(f"EXPLAIN {compiled}"))
        )
    assert "jobs_open" in plan, plan
    assert "jobs_done" not in plan, plan


async def test_a_done_job_keeps_its_dedupe_key(db: Database):
    """Enqueue-unique sees a key whose job finished (moved to a month partition)."""
    async with db.session_scope() as session:
        assert await jobs_service.enqueue_unique(session, "t.part", {}, dedupe_key="k:1")
    async with db.session_scope() as session:
        [claimed] = await jobs_service.claim(
            session, worker_id="w", limit=10, lease=timedelta(seconds=30)
        )
        await jobs_service.complete(session, claimed.id)
    async with db.session_scope() as session:
        assert not await jobs_service.enqueue_unique(session, "t.part", {}, dedupe_key="k:1")
        assert await jobs_service.enqueue_unique(session, "t.part", {}, dedupe_key="k:2")
    async with db.read_scope() as session:
        keys = list(await session.execute(select(Job.dedupe_key, Job.status).order_by(Job.id)))
    assert [tuple(k) for k in keys] == [("k:1", "done"), ("k:2", "pending")]


async def test_retention_drops_whole_old_months_and_keeps_dead_letters(db: Database):
    now = utc_now()
    old = add_months(month_start(now), -3) + timedelta(days=3)
    async with db.session_scope() as session:
        await jobs_service.ensure_partitions(session, now=old, ahead=0)
        await JobRepository.from_session(session).insert_many(
            [
                _done(old),
                _done(now),
                {**_done(old), "status": JobStatus.DEAD.value, "last_error": "x"},
            ]
        )
    async with db.session_scope() as session:
        purged = await jobs_service.purge_done(session, older_than=timedelta(days=7))
    if db.dialect == "postgresql":
        assert purged.partitions == [f"jobs_done_{old.year:04d}_{old.month:02d}"]
        assert purged.rows == 0
        async with db.read_scope() as session:
            months = await PartitionRepository.from_session(session).months("jobs_done")
        # This month and the two ahead stay (created by the migration / the job).
        assert [m.start for m in months][-3:] == [add_months(month_start(now), k) for k in range(3)]
        assert all(m.start > old for m in months)
    else:
        assert purged.rows == 1
    async with db.read_scope() as session:
        left = sorted(r.status for r in (await session.execute(select(Job))).scalars())
    assert left == ["dead", "done"]


async def test_a_month_without_partition_waits_in_default_and_moves_when_created(db: Database):
    _pg_only(db)
    stranded = datetime(2024, 5, 17, tzinfo=UTC)
    async with db.session_scope() as session:
        await JobRepository.from_session(session).insert_many([_done(stranded)])
    assert set((await _where(db)).values()) == {"jobs_done_default"}
    async with db.session_scope() as session:
        created = await jobs_service.ensure_partitions(session, now=stranded, ahead=0)
        assert created == ["jobs_done_2024_05", "lrs_statements_2024_05"]
        await _drop(session, "lrs_statements", "lrs_statements_2024_05")
        assert await PartitionRepository.from_session(session).default_rows("jobs_done") == 0
    assert set((await _where(db)).values()) == {"jobs_done_2024_05"}
    async with db.read_scope() as session:
        plan = "\n".join(
            str(r[0])
            for r in await session.execute(
                text("EXPLAIN SELECT id FROM jobs_done_2024_05 WHERE id = 1")
            )
        )
    assert "Index" in plan or "Seq Scan" in plan  # the attached partition has its indexes
    async with db.session_scope() as session:
        purged = await jobs_service.purge_done(session, older_than=timedelta(days=7))
    assert "jobs_done_2024_05" in purged.partitions


async def test_the_scheduled_job_creates_the_months_ahead(db: Database):
    periodic = next(p for p in scheduler.SCHEDULE if p.name == "jobs.ensure_partitions")
    assert periodic.every == timedelta(days=1)
    async with db.session_scope() as session:
        created = await jobs_service.ensure_partitions(session)
    if db.dialect != "postgresql":
        assert created == []
        return
    assert created == []  # the migration created them already
    later = add_months(month_start(utc_now()), 3) + timedelta(hours=1)
    async with db.session_scope() as session:
        created = await jobs_service.ensure_partitions(session, now=later, ahead=0)
    month = f"{later.year:04d}_{later.month:02d}"
    assert created == [f"jobs_done_{month}", f"lrs_statements_{month}"]
    async with db.session_scope() as session:
        await _drop(session, "jobs_done", f"jobs_done_{month}")
        await _drop(session, "lrs_statements", f"lrs_statements_{month}")


async def test_the_migration_keeps_the_rows_present(db: Database):
    """Downgrade to the plain table, put jobs of every status in, upgrade: every row is
    kept with its id, done rows land in their months, the id sequence goes on."""
    _pg_only(db)
    import asyncio

    from alembic import command

    from creditbank.migrate import alembic_config

    url = db.write_engine.url.render_as_string(hide_password=False)
    # Below foundation_0002 (and the affinity column of foundation_0003).
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0001")
    async with db.read_scope() as session:
        kind = (
            await session.execute(text("SELECT relkind::text FROM pg_class WHERE relname = 'jobs'"))
        ).scalar_one()
    assert kind == "r"
    now = utc_now()
    old = datetime(2025, 11, 3, tzinfo=UTC)
    async with db.session_scope() as session:
        await jobs_service.enqueue_unique(session, "t.part", {"n": 1}, dedupe_key="m:1")
        await JobRepository.from_session(session).insert_many(
            [
                _done(old, dedupe_key="m:2"),
                _done(now),
                {**_done(old), "status": JobStatus.DEAD.value, "last_error": "x"},
            ]
        )
    async with db.read_scope() as session:
        before = [tuple(r) for r in await session.execute(text("SELECT * FROM jobs ORDER BY id"))]
    await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
    async with db.read_scope() as session:
        # Not the text of the query before (asyncpg cached that plan, of fewer columns).
        after = [
            tuple(r) for r in await session.execute(text("SELECT j.* FROM jobs j ORDER BY id"))
        ]
    # foundation_0003 adds the affinity column (empty) at the end.
    assert after == [(*row, None) for row in before]
    where = await _where(db)
    ids = [row[0] for row in before]
    assert [where[i] for i in ids] == [
        "jobs_open",
        "jobs_done_2025_11",
        f"jobs_done_{now.year:04d}_{now.month:02d}",
        "jobs_open",
    ]
    async with db.session_scope() as session:
        assert not await jobs_service.enqueue_unique(session, "t.part", {}, dedupe_key="m:2")
        await jobs_service.enqueue_many(session, "t.part", [{"n": 2}])
    assert max(await _where(db)) == max(ids) + 1
    async with db.session_scope() as session:
        purged = await jobs_service.purge_done(session, older_than=timedelta(days=7))
    assert "jobs_done_2025_11" in purged.partitions


async def test_a_partitioned_table_is_stale_by_its_partitions_counts(db: Database):
    """The parent of a partitioned table keeps no counts: its leaves' are summed, so a
    bulk load of statements is analyzed (which analyzes every partition)."""
    _pg_only(db)
    from creditbank.jobs.repository import StatisticsRepository

    async with db.session_scope() as session:
        await session.execute(
            text(
                "INSERT INTO lrs_statements (seq, id, verb_id, object_type, stored, timestamp, "
                "voided, is_voiding, version, has_attachments, body) "
                "SELECT g, gen_random_uuid(), 'v', 'Activity', now(), now(), false, false, "
                "'1.0.3', false, '{}'::jsonb FROM generate_series(1, 500) AS g"
            )
        )
    import asyncio

    for _ in range(50):  # the server publishes its counters within a second or so
        async with db.read_scope() as session:
            [stats] = await StatisticsRepository.from_session(session).staleness(["lrs_statements"])
        if stats.modified >= 500:
            break
        await asyncio.sleep(0.2)
    assert stats.modified >= 500
    async with db.session_scope() as session:
        assert "lrs_statements" in await jobs_service.analyze_stale(
            session, tables=["lrs_statements"]
        )
    async with db.read_scope() as session:
        [stats] = await StatisticsRepository.from_session(session).staleness(["lrs_statements"])
    assert stats.modified == 0
    assert stats.analyzed
