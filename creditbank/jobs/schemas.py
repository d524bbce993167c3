"""Pydantic shapes of the job table for the operator's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime
    locked_until: datetime | None
    locked_by: str | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class JobStats(RootModel[dict[str, dict[str, int]]]):
    """Job counts: ``{name: {status: count}}``."""


class Replayed(BaseModel):
    """The ids of the dead letters put back in the queue."""

    replayed: list[int]
