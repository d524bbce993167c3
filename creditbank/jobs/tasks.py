"""Job bodies of the job table itself."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from creditbank.jobs.context import TaskContext
from creditbank.jobs.service import jobs as jobs_service

log = logging.getLogger("creditbank.jobs")

#: Finished jobs are kept at least this long for inspection, then removed (dead letters
#: stay). PostgreSQL drops them a month partition at a time once the whole month is
#: older than this.
KEEP_DONE = timedelta(days=7)


async def purge_done(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Remove finished jobs older than a week (PostgreSQL: drop whole month partitions)."""
    days = payload.get("keep_days")
    keep = timedelta(days=float(days)) if days is not None else KEEP_DONE
    purged = await jobs_service.purge_done(ctx.session, older_than=keep)
    if purged.partitions or purged.rows:
        log.info("purged done jobs", extra={"partitions": purged.partitions, "rows": purged.rows})


async def ensure_partitions(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Create the month partitions ahead (this month and the next two), so no row waits
    in a default partition; moves any that does into its new month."""
    created = await jobs_service.ensure_partitions(ctx.session)
    if created:
        log.info("created partitions", extra={"partitions": created})


async def analyze_stale(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """ANALYZE the hot tables whose planner statistics are stale (after a bulk load,
    or wherever autovacuum is off)."""
    analyzed = await jobs_service.analyze_stale(ctx.session)
    if analyzed:
        log.info("analyzed stale tables", extra={"tables": analyzed})
