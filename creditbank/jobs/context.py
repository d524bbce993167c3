"""What a job body receives: its session, the settings and which attempt this is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings


@dataclass(frozen=True)
class TaskContext:
    """The job's transaction (committed with the job's completion) and metadata."""

    session: AsyncSession
    settings: Settings
    job_id: int
    job_name: str
    attempt: int
    now: datetime
    #: Batch bodies only: work another worker holds a lock on may be deferred.
    may_defer: bool = False


#: A job body: ``async def body(ctx, payload) -> None``; idempotent.
TaskHandler = Callable[[TaskContext, dict[str, Any]], Awaitable[None]]

#: A batch body: ``async def body(ctx, payloads) -> deferred`` runs many jobs of one name
#: in one transaction (``ctx.job_id`` is the first one's); any error makes the worker run
#: them one by one with the plain body instead, so a batch body needs no error handling.
#: It returns the positions of the payloads it deferred (``ctx.may_defer``: another
#: worker holds their lock); the worker runs those in the next transaction, waiting.
BatchTaskHandler = Callable[[TaskContext, list[dict[str, Any]]], Awaitable[Sequence[int]]]


class PermanentJobError(Exception):
    """Raised by a job body when retrying cannot help: the job becomes a dead letter now."""
