"""Job bodies of the job table itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from creditbank.jobs.context import TaskContext
from creditbank.jobs.service import jobs as jobs_service

#: Finished jobs are kept this long for inspection, then deleted (dead letters stay).
KEEP_DONE = timedelta(days=7)


async def purge_done(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """Delete finished jobs older than a week."""
    days = payload.get("keep_days")
    keep = timedelta(days=float(days)) if days is not None else KEEP_DONE
    await jobs_service.purge_done(ctx.session, older_than=keep)
