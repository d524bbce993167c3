"""What the imports API answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Message(BaseModel):
    zh_CN: str = Field(alias="zh-CN")
    en: str

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class RowErrorRead(BaseModel):
    """One problem of one row: the row number as a spreadsheet shows it (header = 1),
    the column (header name) and value when a cell is at fault, and what is wrong."""

    row: int
    column: str | None
    value: str | None
    code: str
    message: Message


class ConflictRowRead(BaseModel):
    row: int
    statement_id: uuid.UUID
    message: Message


class CommitResult(BaseModel):
    created: int
    unchanged: int
    conflicts: int
    duplicate_rows: int = 0


class ImportRead(BaseModel):
    """A previewed (or committed) file: counts, the row errors, the conflicting rows."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    institution_key: str
    filename: str
    format: str
    encoding: str | None
    status: str
    rows: int
    valid: int
    error_count: int
    duplicate_rows: int
    new: int
    unchanged: int
    conflicts: int
    errors: list[RowErrorRead]
    conflict_rows: list[ConflictRowRead]
    result: CommitResult | None
    created_by: str | None
    created_at: datetime
    committed_at: datetime | None


class ImportSummary(BaseModel):
    """A row of the import list (no errors)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    status: str
    rows: int
    valid: int
    error_count: int
    new: int
    unchanged: int
    conflicts: int
    created_at: datetime
    committed_at: datetime | None
