"""Job bodies of the counters context."""

from __future__ import annotations

from typing import Any

from creditbank.counters.service import counters as counters_service
from creditbank.jobs.context import TaskContext


async def fold(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``counters.fold`` (every minute): keep the scrape's sum over a few rows."""
    await counters_service.fold(ctx.session)
