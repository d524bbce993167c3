"""What the audit log is queried by: the one list of filters (router, service, repository)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

#: Filters that match a column exactly.
EXACT_FILTERS = ("action", "actor_id", "object_type", "object_id", "outcome")


class AuditFilter(BaseModel):
    """Entries matching every given field, newest first; page with ``before_id`` (the last
    id of the previous page)."""

    model_config = ConfigDict(frozen=True)

    action: str | None = None
    actor_id: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    outcome: str | None = None
    since: datetime | None = Field(default=None, description="at or after")
    until: datetime | None = Field(default=None, description="before")
    before_id: int | None = None
    limit: int = 100
