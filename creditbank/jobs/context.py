"""What a job body receives: its session, the settings and which attempt this is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


#: A job body: ``async def body(ctx, payload) -> None``; idempotent.
TaskHandler = Callable[[TaskContext, dict[str, Any]], Awaitable[None]]


class PermanentJobError(Exception):
    """Raised by a job body when retrying cannot help: the job becomes a dead letter now."""
