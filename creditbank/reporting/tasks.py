"""Job bodies of the reporting context."""

from __future__ import annotations

from typing import Any

from creditbank.jobs.context import TaskContext
from creditbank.reporting.service import roll_up


async def rollup(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """The scheduled (ten-minute) fold of the dashboard's rollups; idempotent."""
    await roll_up(ctx.session, now=ctx.now)
