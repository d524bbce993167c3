"""Query helpers the contexts' repositories share (SQL stays in repository modules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute


def among(
    column: QueryableAttribute[Any], values: Sequence[Any], *, dialect: str
) -> ColumnElement[bool]:
    """``column IN (values)``, portably; on PostgreSQL ``column = ANY(:values)``.

    One array parameter instead of one bind per value: the statement is the same
    whatever the count (asyncpg prepares it once, not once per list length) and
    nothing is rendered per value. For the batch paths' lists of hundreds of ids.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))
