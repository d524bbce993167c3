"""Bulk writes and reads of the benchmarks: what ``bench dataset`` loads and counts.

A benchmark loader writes rows of several contexts' tables at once (statements and
their filter keys, learners and links, outcomes), far faster than their services
would one by one: ``COPY`` on PostgreSQL, batched INSERTs (``executemany``) on
SQLite. Rows are given as the ORM column values (``Decimal`` credits, ``dict``
documents, aware datetimes); here they become what each database takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.kit.credits import to_hundredths
from creditbank.kit.partitions.repository import PartitionRepository
from creditbank.kit.types import Credits
from creditbank.lrs.models import STATEMENT_PARTITIONS, Statement


class BenchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> BenchRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def head(self) -> tuple[int, Any]:
        """``(seq, stored)`` of the last statement, ``(0, None)`` when there is none."""
        row = (
            await self.session.execute(
                select(Statement.seq, Statement.stored).order_by(Statement.seq.desc()).limit(1)
            )
        ).first()
        return (int(row.seq), row.stored) if row is not None else (0, None)

    async def load(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` (all with the same keys) to ``table``."""
        if not rows:
            return
        if self.dialect != "postgresql":
            await self.session.execute(insert(table), list(rows))
            return
        names = list(rows[0])
        convert = [_pg_converter(table.c[name].type) for name in names]
        records = [
            tuple(c(row[name]) for c, name in zip(convert, names, strict=True)) for row in rows
        ]
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=names
        )

    async def load_keys(self, rows: Sequence[tuple[int, int, bool, datetime]]) -> None:
        """``(key_hash, statement_seq, related, statement_stored)`` rows of
        ``lrs_statement_keys`` (SQLite does not keep the stored time)."""
        if not rows:
            return
        connection = await self.session.connection()
        if self.dialect == "postgresql":
            raw = await connection.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                "lrs_statement_keys",
                records=list(rows),
                columns=["key_hash", "statement_seq", "related", "statement_stored"],
            )
            return
        await connection.exec_driver_sql(
            "INSERT INTO lrs_statement_keys (key_hash, statement_seq, related) VALUES (?, ?, ?)",
            [row[:3] for row in rows],
        )

    async def ensure_statement_partitions(self, start: datetime, end: datetime) -> None:
        """PostgreSQL: the month partitions of ``lrs_statements`` a load of statements
        stored from ``start`` to ``end`` needs (and the months ahead)."""
        await PartitionRepository.from_session(self.session).ensure_range(
            STATEMENT_PARTITIONS, "stored", start=start, end=end
        )


def _identity(value: Any) -> Any:
    return value


def _hundredths(value: Any) -> Any:
    return None if value is None else to_hundredths(value)


def _json_text(value: Any) -> Any:
    return None if value is None else orjson.dumps(value).decode()


def _pg_converter(column_type: Any) -> Any:
    """What COPY takes for a column: integer hundredths for credits, JSON as text."""
    if isinstance(column_type, Credits):
        return _hundredths
    if isinstance(column_type, JSON) or getattr(column_type, "__visit_name__", "") == "JSONB":
        return _json_text
    return _identity
