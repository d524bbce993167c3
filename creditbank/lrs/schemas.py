"""Pydantic shapes the LRS documents in OpenAPI (the xAPI routes write their bytes
themselves, so these describe the answers; they never re-serialize them)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AboutRead(BaseModel):
    """``GET /xapi/about`` (xAPI Communication 2.8): versions spoken, extensions."""

    version: list[str]
    extensions: dict[str, Any] | None = None


class VoidRequest(BaseModel):
    """Why the operator voids a statement for the institution that stored it."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class VoidAnswer(BaseModel):
    statement_id: uuid.UUID
    voiding_statement_id: uuid.UUID
    institution_id: uuid.UUID | None
