"""Pydantic shapes the LRS documents in OpenAPI (the xAPI routes write their bytes
themselves, so these describe the answers; they never re-serialize them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AboutRead(BaseModel):
    """``GET /xapi/about`` (xAPI Communication 2.8): versions spoken, extensions."""

    version: list[str]
    extensions: dict[str, Any] | None = None
