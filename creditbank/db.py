"""Declarative base, engines and session scopes for SQLite and PostgreSQL.

Two engines per process: a *write* engine whose SQLite transactions start with
``BEGIN IMMEDIATE`` (so concurrent writers queue on the busy timeout instead of
failing when a read lock is upgraded), and a *read* engine with deferred
transactions, so reads never wait for writers under WAL.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NewType

import orjson
from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from creditbank.config import Settings
from creditbank.errors import Conflict, DomainError, ServiceUnavailable

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every ORM model; constraint names are deterministic on both dialects."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def database_error(exc: DBAPIError) -> DomainError | None:
    """The answer for a database failure nobody handled (at commit, typically).

    A broken constraint is a conflict (409); a lost connection, a busy or locked
    database is "try again" (503). Anything else stays an internal error (``None``).
    """
    if isinstance(exc, IntegrityError):
        return Conflict("the change conflicts with stored data / 与已有数据冲突", code="conflict")
    if (
        exc.connection_invalidated
        or isinstance(exc, (OperationalError, InterfaceError))
        or _unavailable_sqlstate(getattr(exc.orig, "sqlstate", None))
    ):
        return _unavailable()
    return None


def unavailable_error(exc: BaseException) -> DomainError | None:
    """503 for a failure to reach the database that is not a ``DBAPIError``: the
    driver's own connect error (``ConnectionRefusedError`` while PostgreSQL restarts,
    a connect timeout), anywhere in the cause chain; else ``None``."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return _unavailable()
        if _unavailable_sqlstate(getattr(seen, "sqlstate", None)):
            return _unavailable()
        seen = seen.__cause__ or seen.__context__
    return None


def _unavailable_sqlstate(sqlstate: object) -> bool:
    """Connection exceptions (class 08), shutdown / starting up (57P01-57P03), too many
    connections (53300): the database is away for now, not the request wrong."""
    if not isinstance(sqlstate, str):
        return False
    return sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03", "53300"}


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the database is unavailable, please retry / 数据库暂不可用，请稍后重试"
    )


#: A session that must only read; mypy keeps writes off it by type.
ReadSession = NewType("ReadSession", AsyncSession)


def import_all_models() -> None:
    """Import every ``models`` module under ``creditbank``, filling ``Base.metadata``."""
    import creditbank

    for info in pkgutil.walk_packages(creditbank.__path__, prefix="creditbank."):
        if info.name.rsplit(".", 1)[-1] == "models" or info.name.endswith("_models"):
            importlib.import_module(info.name)


_SQLITE_WRITE_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def sqlite_write_gate() -> asyncio.Lock:
    """The SQLite writers' queue of this process (one per event loop: asyncio locks are bound).

    SQLite has one writer at a time; writers of one process that queue here, instead of
    polling SQLite's busy handler (which sleeps up to 100 ms a try), take turns in order.
    """
    loop = asyncio.get_running_loop()
    gate = _SQLITE_WRITE_GATES.get(loop)
    if gate is None:
        gate = _SQLITE_WRITE_GATES[loop] = asyncio.Lock()
    return gate


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _prepare_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, pool_size: int = 10, immediate: bool = True) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``)."""
    kwargs: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if url.startswith("sqlite"):
        _prepare_sqlite_path(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, emit BEGIN (the documented SAVEPOINT fix).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **kwargs
    )


@dataclass
class Database:
    """The engines and session factories of one process."""

    write_engine: AsyncEngine
    read_engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls.from_url(settings.database_url, pool_size=settings.database_pool_size)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10) -> Database:
        write_engine = create_engine(url, pool_size=pool_size, immediate=True)
        read_engine = (
            create_engine(url, pool_size=pool_size, immediate=False)
            if url.startswith("sqlite")
            else write_engine
        )
        return cls(
            write_engine=write_engine,
            read_engine=read_engine,
            sessionmaker=async_sessionmaker(write_engine, expire_on_commit=False),
            read_sessionmaker=async_sessionmaker(read_engine, expire_on_commit=False),
        )

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """A write session: commits when the block ends, rolls back if it raised."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            else:
                await session.commit()

    @asynccontextmanager
    async def read_scope(self) -> AsyncIterator[ReadSession]:
        """A read-only session; never committed."""
        async with self.read_sessionmaker() as session:
            yield ReadSession(session)
            await session.rollback()

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


@asynccontextmanager
async def detached_scope(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A write transaction of its own on the engine ``session`` is bound to, committed when
    the block ends: for what must be kept although ``session`` rolls back (audited refusals)."""
    bind = session.bind
    engine = bind.engine if isinstance(bind, AsyncConnection) else bind
    if not isinstance(engine, AsyncEngine):  # pragma: no cover - sessions are engine-bound
        raise TypeError("the session is not bound to an async engine")
    async with AsyncSession(engine, expire_on_commit=False) as own:
        try:
            yield own
        except BaseException:
            await own.rollback()
            raise
        else:
            await own.commit()
