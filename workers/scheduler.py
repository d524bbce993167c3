"""Periodic jobs: enqueued into the job table once per period, whoever ticks first.

Every worker ticks; each period of each schedule has one slot, and the slot is
the job's ``dedupe_key`` (``periodic:<name>:<slot>``), so however many workers
run, a period's job is enqueued once and run by one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from creditbank.db import Database
from creditbank.jobs.service import jobs as jobs_service


@dataclass(frozen=True)
class Periodic:
    """Run job ``name`` with ``payload`` once every ``every``."""

    name: str
    every: timedelta
    payload: dict[str, Any] = field(default_factory=dict)

    def slot(self, now: datetime) -> int:
        return int(now.timestamp() // self.every.total_seconds())


#: The schedule. Contexts add their lines (e.g. hourly ledger checkpoints).
SCHEDULE: tuple[Periodic, ...] = (
    Periodic("rules.expiry_sweep", timedelta(hours=1)),
    Periodic("jobs.purge_done", timedelta(days=1)),
    # PostgreSQL month partitions (done jobs): this month and the next two exist always.
    Periodic("jobs.ensure_partitions", timedelta(days=1)),
    # Planner statistics of the hot tables, refreshed when stale (a bulk load, autovacuum
    # off): a cheap check every ten minutes, ANALYZE only of what changed.
    Periodic("jobs.analyze_stale", timedelta(minutes=10)),
    Periodic("ledger.checkpoint", timedelta(hours=1)),
    # /metrics sums the counters' delta rows: fold them into one row each, often.
    Periodic("counters.fold", timedelta(minutes=1)),
    # The dashboard's rollups (reporting/models.py): everything older than five minutes
    # folded in, the dashboard reads them plus the rows since (issue 14).
    Periodic("reporting.rollup", timedelta(minutes=10)),
)


async def tick(
    database: Database, now: datetime, schedule: Sequence[Periodic] = SCHEDULE
) -> list[str]:
    """Enqueue the jobs whose current period has none yet; returns the names enqueued."""
    enqueued: list[str] = []
    async with database.session_scope() as session:
        for periodic in schedule:
            added = await jobs_service.enqueue_unique(
                session,
                periodic.name,
                periodic.payload,
                dedupe_key=f"periodic:{periodic.name}:{periodic.slot(now)}",
                run_at=now,
            )
            if added:
                enqueued.append(periodic.name)
    return enqueued
