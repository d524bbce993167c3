"""Job bodies of the job table itself."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from creditbank.jobs.context import TaskContext
from creditbank.jobs.service import jobs as jobs_service

log = logging.getLogger("creditbank.jobs")

#: Finished jobs are kept this long for inspection, then deleted (dead letters stay).
KEEP_DONE = timedelta(days=7)


async def purge_done(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Delete finished jobs older than a week."""
    days = payload.get("keep_days")
    keep = timedelta(days=float(days)) if days is not None else KEEP_DONE
    await jobs_service.purge_done(ctx.session, older_than=keep)


async def analyze_stale(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """ANALYZE the hot tables whose planner statistics are stale (after a bulk load,
    or wherever autovacuum is off)."""
    analyzed = await jobs_service.analyze_stale(ctx.session)
    if analyzed:
        log.info("analyzed stale tables", extra={"tables": analyzed})
