"""Job bodies of the ledger context."""

from __future__ import annotations

from typing import Any

from creditbank.jobs.context import TaskContext
from creditbank.ledger.checkpoints import checkpoints


async def checkpoint(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """The scheduled (hourly) checkpoint; none when nothing changed since the last one."""
    await checkpoints.create(
        ctx.session, ctx.settings, skip_if_unchanged=not payload.get("force", False)
    )
