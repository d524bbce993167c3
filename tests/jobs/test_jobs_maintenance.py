"""The maintenance job: after a bulk load nobody ANALYZEd, the scheduled
``jobs.analyze_stale`` run by the worker leaves the hot tables' statistics fresh."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, text

from creditbank.audit.models import AuditEntry
from creditbank.config import Settings
from creditbank.db import Database
from creditbank.jobs.repository import StatisticsRepository
from creditbank.jobs.service import ANALYZE_SCALE, ANALYZE_THRESHOLD, HOT_TABLES
from creditbank.jobs.service import jobs as jobs_service
from creditbank.kit.time import utc_now
from workers import scheduler
from workers.runner import Worker

ROWS = 3000


async def _bulk_load(db: Database, count: int = ROWS) -> None:
    """``count`` audit entries in one multi-row INSERT: a bulk load, no ANALYZE after it.

    (SQLite keeps no count of changed rows: staleness there is the row count against
    the one ANALYZE saw, and the database file outlives a test, so each test loads
    its own number of rows.)
    """
    now = utc_now()
    rows: list[dict[str, Any]] = [
        {
            "at": now,
            "actor_kind": "system",
            "actor_id": None,
            "actor_label": "load",
            "action": "test.load",
            "outcome": "allowed",
            "object_type": "row",
            "object_id": str(n),
            "detail": {},
            "ip": None,
            "request_id": None,
        }
        for n in range(count)
    ]
    async with db.session_scope() as session:
        await session.execute(insert(AuditEntry), rows)
        if db.dialect == "postgresql":
            # The backend reports its row counts when idle; ask it not to wait.
            await session.execute(text("SELECT pg_stat_force_next_flush()"))


async def _audit_stats(db: Database) -> tuple[int, bool]:
    modified, _, analyzed = await _audit_staleness(db)
    return modified, analyzed


async def _audit_staleness(db: Database) -> tuple[int, float, bool]:
    async with db.read_scope() as session:
        (stats,) = await StatisticsRepository.from_session(session).staleness(["audit_log"])
    return stats.modified, stats.rows, stats.analyzed


async def _wait_until_counted(db: Database) -> None:
    """PostgreSQL's statistics of changed rows arrive within a second or so."""
    for _ in range(300):
        modified, rows, _ = await _audit_staleness(db)
        # (SQLite: the difference from the row count an earlier test's ANALYZE saw.)
        if modified > ANALYZE_THRESHOLD + ANALYZE_SCALE * rows and modified >= ROWS // 2:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the bulk load never showed as stale: {await _audit_stats(db)}")


async def test_the_scheduled_job_analyzes_a_bulk_loaded_table(db: Database, settings: Settings):
    assert "audit_log" in HOT_TABLES
    await _bulk_load(db)
    await _wait_until_counted(db)

    now = utc_now()
    periodic = next(p for p in scheduler.SCHEDULE if p.name == "jobs.analyze_stale")
    assert periodic.every <= timedelta(hours=1)
    assert "jobs.analyze_stale" in await scheduler.tick(db, now, [periodic])
    ran = await Worker(db, settings, schedule=()).drain()
    assert ran == 1

    if db.dialect == "postgresql":
        async with db.read_scope() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT last_analyze, n_mod_since_analyze FROM pg_stat_user_tables "
                        "WHERE relname = 'audit_log'"
                    )
                )
            ).one()
        assert row[0] is not None
        assert row[1] == 0
    else:
        async with db.read_scope() as session:
            stat = (
                await session.execute(
                    text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'audit_log' LIMIT 1")
                )
            ).scalar_one()
        assert int(str(stat).split()[0]) >= ROWS
    modified, analyzed = await _audit_stats(db)
    assert analyzed
    assert modified == 0


async def test_fresh_statistics_are_left_alone(db: Database):
    await _bulk_load(db, 2 * ROWS)
    await _wait_until_counted(db)
    async with db.session_scope() as session:
        assert "audit_log" in await jobs_service.analyze_stale(session)
    async with db.session_scope() as session:
        assert "audit_log" not in await jobs_service.analyze_stale(session)
