"""Pydantic shapes of published standards versions (the format itself is ``schemas.py``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class StandardsVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    set_id: str
    version: str
    effective_from: date
    content_hash: str
    title_zh: str
    title_en: str
    published_at: datetime
    published_by: str


class StandardsVersionDetail(StandardsVersionRead):
    content: dict[str, Any]
