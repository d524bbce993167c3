"""Query helpers the contexts' repositories share (SQL stays in repository modules)."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Dialect,
    Table,
    TextClause,
    any_,
    bindparam,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.types import TypeDecorator


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


# -- whole batches of rows in one statement (PostgreSQL) -----------------------------------


@dataclass(frozen=True)
class _Plan:
    """A fixed statement over one array parameter per column, and the columns' bind
    processing of the values that go into the arrays."""

    statement: TextClause
    keys: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


#: Plans by dialect (an engine's own: its JSON serializer is in the processors), then
#: by statement kind and table.
_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, ...], _Plan]] = (
    weakref.WeakKeyDictionary()
)


def _unnest(columns: Sequence[Column[Any]], dialect: Dialect) -> tuple[str, list[str]]:
    """``unnest(CAST(:c0 AS type[]), ...) AS v(name, ...)`` over ``columns``, and what
    to select of it for each column.

    Array element types are the columns' without lengths (``VARCHAR(64)`` as
    ``VARCHAR``): an explicit cast to a length truncates silently where the
    assignment of the INSERT or UPDATE refuses a value too long, as for one row. JSON
    goes as text and is cast in the select list (the same parse as a JSON parameter).
    """
    quote = dialect.identifier_preparer.quote
    arrays: list[str] = []
    selected: list[str] = []
    for i, column in enumerate(columns):
        impl = column.type.dialect_impl(dialect)
        if isinstance(impl, TypeDecorator):
            impl = impl.impl_instance.dialect_impl(dialect)
        name = f"v.{quote(column.name)}"
        if isinstance(impl, JSON):
            arrays.append(f"CAST(:c{i} AS TEXT[])")
            selected.append(f"CAST({name} AS {impl.compile(dialect=dialect)})")
        else:
            element = re.sub(r"\(\d+\)", "", impl.compile(dialect=dialect))
            arrays.append(f"CAST(:c{i} AS {element}[])")
            selected.append(name)
    names = ", ".join(quote(column.name) for column in columns)
    return f"unnest({', '.join(arrays)}) AS v({names})", selected


def _plan(
    dialect: Dialect,
    key: tuple[str, ...],
    columns: Callable[[], Sequence[Column[Any]]],
    sql: Callable[[Sequence[Column[Any]]], str],
) -> _Plan:
    plans = _PLANS.setdefault(dialect, {})
    plan = plans.get(key)
    if plan is None:
        chosen = columns()
        plan = plans[key] = _Plan(
            text(sql(chosen)),
            tuple(column.key for column in chosen),
            tuple(column.type.dialect_impl(dialect).bind_processor(dialect) for column in chosen),
        )
    return plan


def _arrays(plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """One array per column, each value bound as its column's type binds it (hundredths
    of ``Credits``, ``UTCDateTime`` in UTC, JSON serialised; None is NULL)."""
    out: dict[str, list[Any]] = {}
    for i, (key, process) in enumerate(zip(plan.keys, plan.processors, strict=True)):
        values = [row[key] for row in rows]
        out[f"c{i}"] = values if process is None else [process(v) for v in values]
    return out


async def insert_all(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict_do_nothing: bool = False,
) -> None:
    """INSERT ``rows``, each giving every column of ``table``, as one statement.

    PostgreSQL: ``INSERT ... SELECT ... FROM unnest(:c0, :c1, ...)``, one array
    parameter per column. Its text is the same whatever the number of rows, so
    asyncpg prepares it once per connection, and the server runs one statement where
    ``executemany`` binds and executes once per row; a multi-row VALUES would instead
    change its text with the row count and take a parameter per value (asyncpg allows
    32,767). SQLite: the Core INSERT run for every row, as before. Either way the rows
    are written all or none (a unique violation raises ``IntegrityError``).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        statement = (
            sqlite_insert(table).on_conflict_do_nothing()
            if on_conflict_do_nothing
            else table.insert()
        )
        await session.execute(statement, list(rows))
        return

    def sql(columns: Sequence[Column[Any]]) -> str:
        source, selected = _unnest(columns, dialect)
        names = ", ".join(dialect.identifier_preparer.quote(column.name) for column in columns)
        conflict = " ON CONFLICT DO NOTHING" if on_conflict_do_nothing else ""
        # Names quoted from the table's metadata; every value is a bound array.
        target = dialect.identifier_preparer.format_table(table)
        columns_sql = ", ".join(selected)
        return f"INSERT INTO {target} ({names}) SELECT {columns_sql} FROM {source}{conflict}"  # noqa: S608

    key = ("insert", table.fullname, "ignore" if on_conflict_do_nothing else "")
    plan = _plan(dialect, key, lambda: list(table.columns), sql)
    await session.execute(plan.statement, _arrays(plan, rows))


async def update_all(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str
) -> None:
    """PostgreSQL: UPDATE the row of ``table`` whose ``key`` column is each row's
    ``key``, setting the other columns the rows give (all rows the same columns, keys
    distinct), as one ``UPDATE ... FROM unnest(...)`` (see :func:`insert_all`)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        raise NotImplementedError("update_all is the PostgreSQL batch path")
    names = (key, *(name for name in rows[0] if name != key))

    def sql(columns: Sequence[Column[Any]]) -> str:
        source, selected = _unnest(columns, dialect)
        quote = dialect.identifier_preparer.quote
        target = dialect.identifier_preparer.format_table(table)
        sets = ", ".join(
            f"{quote(column.name)} = {value}"
            for column, value in zip(columns[1:], selected[1:], strict=True)
        )
        match = quote(columns[0].name)
        # Names quoted from the table's metadata; every value is a bound array.
        return f"UPDATE {target} SET {sets} FROM {source} WHERE {target}.{match} = v.{match}"  # noqa: S608

    plan = _plan(
        dialect, ("update", table.fullname, *names), lambda: [table.c[n] for n in names], sql
    )
    await session.execute(plan.statement, _arrays(plan, rows))
