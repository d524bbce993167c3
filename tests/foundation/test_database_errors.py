"""Database failures that mean "try again" answer 503, not 500: produced for real.

PostgreSQL: a deadlock victim (40P01) and a serialization failure (40001, also how a
hot standby cancels a read that replay conflicts with). SQLite: a locked database.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from creditbank.db import Database, database_error
from creditbank.errors import ServiceUnavailable


async def _deadlock_victim(db: Database) -> DBAPIError:
    """Two transactions take two advisory locks in opposite orders; PostgreSQL's
    deadlock detector cancels one of them."""
    first_locked, second_locked = asyncio.Event(), asyncio.Event()

    async def take(first: int, second: int, mine: asyncio.Event, other: asyncio.Event) -> None:
        async with db.write_engine.connect() as connection, connection.begin():
            await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": first})
            mine.set()
            await other.wait()
            await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": second})

    results = await asyncio.gather(
        take(914_001, 914_002, first_locked, second_locked),
        take(914_002, 914_001, second_locked, first_locked),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1, results
    assert isinstance(failures[0], DBAPIError), failures[0]
    return failures[0]


async def _serialization_failure(db: Database) -> DBAPIError:
    """Two SERIALIZABLE transactions each read what the other writes (write skew)."""
    async with db.write_engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE IF NOT EXISTS test_write_skew (k int PRIMARY KEY, v int)")
        )
        await connection.execute(text("TRUNCATE test_write_skew"))
        await connection.execute(text("INSERT INTO test_write_skew VALUES (1, 0), (2, 0)"))
    both_read = asyncio.Barrier(2)

    async def skew(read: int, write: int) -> None:
        async with db.write_engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="SERIALIZABLE")
            async with connection.begin():
                await connection.execute(
                    text("SELECT v FROM test_write_skew WHERE k = :k"), {"k": read}
                )
                await both_read.wait()
                await connection.execute(
                    text("UPDATE test_write_skew SET v = v + 1 WHERE k = :k"), {"k": write}
                )

    try:
        results = await asyncio.gather(skew(1, 2), skew(2, 1), return_exceptions=True)
    finally:
        async with db.write_engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS test_write_skew"))
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1, results
    assert isinstance(failures[0], DBAPIError), failures[0]
    return failures[0]


async def _locked(db: Database) -> DBAPIError:
    """A second writer that does not wait while the bank holds SQLite's write lock."""
    impatient = create_async_engine(db.write_engine.url, connect_args={"timeout": 0})
    try:
        async with db.write_engine.begin() as holder:  # BEGIN IMMEDIATE: the write lock
            await holder.execute(text("SELECT 1"))
            async with impatient.connect() as other:
                try:
                    await other.exec_driver_sql("BEGIN IMMEDIATE")
                except DBAPIError as exc:
                    return exc
    finally:
        await impatient.dispose()
    pytest.fail("the second writer was not refused")


async def test_try_again_failures_are_503(db: Database) -> None:
    if db.dialect == "postgresql":
        failures = {
            "40P01": await _deadlock_victim(db),
            "40001": await _serialization_failure(db),
        }
        for sqlstate, failure in failures.items():
            assert getattr(failure.orig, "sqlstate", None) == sqlstate
    else:
        failures = {"locked": await _locked(db)}
    for name, failure in failures.items():
        assert isinstance(database_error(failure), ServiceUnavailable), name


async def test_a_broken_query_stays_an_internal_error(db: Database) -> None:
    async with db.write_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text("SELECT * FROM no_such_table_here"))
    assert database_error(raised.value) is None
