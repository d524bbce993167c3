"""Declarative base, engines and session scopes for SQLite and PostgreSQL.

Two engines per process: a *write* engine whose SQLite transactions start with
``BEGIN IMMEDIATE`` (so concurrent writers queue on the busy timeout instead of
failing when a read lock is upgraded), and a *read* engine with deferred
transactions, so reads never wait for writers under WAL.

On PostgreSQL with ``CREDITBANK_READ_DATABASE_URL`` a third, *standby* engine reads
a hot standby: ``Database.replica_scope()`` serves the reads that may lag there,
unless the caller's own last write has not been replayed yet (then the primary).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import logging
import pkgutil
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NewType

import orjson
from sqlalchemy import MetaData, event, text
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
        or (isinstance(exc, (OperationalError, InterfaceError)) and not _sqlite_mistake(exc))
        or _unavailable_sqlstate(getattr(exc.orig, "sqlstate", None))
    ):
        return _unavailable()
    return None


#: What sqlite3 raises as OperationalError when the database cannot answer now.
_SQLITE_TRY_AGAIN = ("locked", "busy", "unable to open", "disk i/o", "disk is full")


def _sqlite_mistake(exc: DBAPIError) -> bool:
    """sqlite3 raises OperationalError for mistakes too (no such table, a syntax
    error): those are bugs, an internal error, not "try again"."""
    orig = exc.orig
    if type(orig).__module__ != "sqlite3":
        return False
    message = str(orig).lower()
    return not any(marker in message for marker in _SQLITE_TRY_AGAIN)


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


#: SQLSTATEs that say "try again", not "the request is wrong": shutdown / starting up
#: (57P01-57P03), too many connections (53300), a serialization failure (40001) and a
#: deadlock victim (40P01). 40001 is also how a hot standby cancels a read whose rows
#: replay removed ("conflict with recovery"), so a standby read under replay is a 503
#: with Retry-After, not a 500.
_TRY_AGAIN_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})


def _unavailable_sqlstate(sqlstate: object) -> bool:
    """Connection exceptions (class 08) and ``_TRY_AGAIN_SQLSTATES``: the database
    cannot answer this now, the request is not wrong."""
    if not isinstance(sqlstate, str):
        return False
    return sqlstate.startswith("08") or sqlstate in _TRY_AGAIN_SQLSTATES


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the database is unavailable, please retry / 数据库暂不可用，请稍后重试"
    )


log = logging.getLogger("creditbank.db")

#: A standby that does not answer a connection in this long is read around (primary).
STANDBY_CONNECT_SECONDS = 5.0
#: When the last "standby unavailable" warning was logged (monotonic seconds).
_STANDBY_WARNED = [float("-inf")]

#: A session that must only read; mypy keeps writes off it by type.
ReadSession = NewType("ReadSession", AsyncSession)


class StandbyBehind(Exception):
    """The standby has not replayed what this read needs: read it on the primary."""


def on_standby(session: AsyncSession) -> bool:
    """Whether ``session`` reads the hot standby (so it may lag the primary)."""
    return bool(session.info.get("standby"))


@dataclass
class WriteNote:
    """What one request did: committed a write (``wrote``), and for whom (``who``, a key
    of the caller). Set up per request by the API; ``Database.session_scope`` notes commits."""

    who: str | None = None
    wrote: bool = False


#: The current request's note (None outside requests: workers, the command line).
WRITE_NOTE: contextvars.ContextVar[WriteNote | None] = contextvars.ContextVar(
    "creditbank_write_note", default=None
)


def note_write() -> None:
    note = WRITE_NOTE.get()
    if note is not None:
        note.wrote = True


def import_all_models() -> None:
    """Import every ``models`` module under ``creditbank``, filling ``Base.metadata``."""
    import creditbank

    for info in pkgutil.walk_packages(creditbank.__path__, prefix="creditbank."):
        if info.name.rsplit(".", 1)[-1] == "models" or info.name.endswith("_models"):
            importlib.import_module(info.name)


class WriteGate(asyncio.Lock):
    """An asyncio lock that knows whether anyone holds it or waits for it."""

    def __init__(self) -> None:
        super().__init__()
        self._wanted = 0

    async def acquire(self) -> Literal[True]:
        self._wanted += 1
        try:
            return await super().acquire()
        finally:
            self._wanted -= 1

    def contended(self) -> bool:
        """Held, or awaited (a released lock's next holder has not run yet)."""
        return self.locked() or self._wanted > 0


_SQLITE_WRITE_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteGate] = (
    weakref.WeakKeyDictionary()
)


def sqlite_write_gate() -> WriteGate:
    """The SQLite writers' queue of this process (one per event loop: asyncio locks are bound).

    SQLite has one writer at a time; writers of one process that queue here, instead of
    polling SQLite's busy handler (which sleeps up to 100 ms a try), take turns in order.
    """
    loop = asyncio.get_running_loop()
    gate = _SQLITE_WRITE_GATES.get(loop)
    if gate is None:
        gate = _SQLITE_WRITE_GATES[loop] = WriteGate()
    return gate


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _prepare_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


#: SQLite page cache of a write connection, KiB (the default is 2 MiB): the random
#: inserts into the statement-id and filter-key indexes otherwise re-read their pages
#: from the OS on every batch. Reads keep the default (a pool of them, one scan each).
SQLITE_WRITE_CACHE_KIB = 65536
#: WAL pages after which a committing writer checkpoints (the default is 1,000 pages,
#: ~4 MiB): a backstop only; a process that serves requests checkpoints in the
#: background (:class:`SqliteCheckpointer`), so no request waits for one.
SQLITE_WAL_AUTOCHECKPOINT = 10000


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    immediate: bool = True,
    connect_timeout: float | None = None,
) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``)."""
    kwargs: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if connect_timeout is not None and not url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": connect_timeout}
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
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
            if immediate:
                cursor.execute(f"PRAGMA cache_size=-{SQLITE_WRITE_CACHE_KIB}")
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
    #: The hot standby (``CREDITBANK_READ_DATABASE_URL``); None: none, all on the primary.
    standby_engine: AsyncEngine | None = None
    standby_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls.from_url(
            settings.database_url,
            pool_size=settings.database_pool_size,
            standby_url=settings.read_database_url,
            standby_pool_size=settings.read_database_pool_size,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        standby_url: str | None = None,
        standby_pool_size: int | None = None,
    ) -> Database:
        write_engine = create_engine(url, pool_size=pool_size, immediate=True)
        read_engine = (
            create_engine(url, pool_size=pool_size, immediate=False)
            if url.startswith("sqlite")
            else write_engine
        )
        standby_engine = (
            create_engine(
                standby_url,
                pool_size=standby_pool_size or pool_size,
                connect_timeout=STANDBY_CONNECT_SECONDS,
            )
            if standby_url
            else None
        )
        return cls(
            write_engine=write_engine,
            read_engine=read_engine,
            sessionmaker=async_sessionmaker(write_engine, expire_on_commit=False),
            read_sessionmaker=async_sessionmaker(read_engine, expire_on_commit=False),
            standby_engine=standby_engine,
            standby_sessionmaker=(
                async_sessionmaker(standby_engine, expire_on_commit=False, info={"standby": True})
                if standby_engine is not None
                else None
            ),
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
                note_write()

    @asynccontextmanager
    async def read_scope(self) -> AsyncIterator[ReadSession]:
        """A read-only session on the primary; never committed. For reads that must be
        exact (sign-in, credentials, anything deciding a write)."""
        async with self.read_sessionmaker() as session:
            yield ReadSession(session)
            await session.rollback()

    @asynccontextmanager
    async def replica_scope(self, *, after: str | None = None) -> AsyncIterator[ReadSession]:
        """A read-only session for reads that may lag: on the standby when there is one
        and it has replayed the primary's WAL up to ``after`` (an LSN, the caller's last
        write), else on the primary (``read_scope``). ``on_standby`` tells which."""
        if self.standby_sessionmaker is None:
            async with self.read_scope() as primary:
                yield primary
            return
        async with self.standby_sessionmaker() as session:
            if await _standby_usable(session, after):
                yield ReadSession(session)
                await session.rollback()
                return
            await session.rollback()
        async with self.read_scope() as primary:
            yield primary

    async def primary_lsn(self) -> str:
        """The primary's current WAL insert position: every transaction committed before
        this call is replayed on a standby that reached it. (Not ``pg_current_wal_lsn()``,
        the *write* position: with ``synchronous_commit = off`` a commit may be inserted
        but not yet written, and a standby at the write position would lack it.)"""
        async with self.write_engine.connect() as connection:
            result = await connection.execute(text("SELECT pg_current_wal_insert_lsn()::text"))
            return str(result.scalar_one())

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
        if self.standby_engine is not None:
            await self.standby_engine.dispose()


async def _standby_usable(session: AsyncSession, after: str | None) -> bool:
    """Whether a read may run on the standby of ``session``: it answers (its connection
    is taken here, where a refusal can still fall back to the primary) and has replayed
    up to ``after``. A standby that is away is logged (at most once a minute)."""
    try:
        await session.connection()
        return after is None or await _replayed(session, after)
    except Exception as exc:
        away = database_error(exc) if isinstance(exc, DBAPIError) else unavailable_error(exc)
        if not isinstance(away, ServiceUnavailable):
            raise
        now = time.monotonic()
        if now - _STANDBY_WARNED[0] > 60:
            _STANDBY_WARNED[0] = now
            log.warning("the hot standby is unavailable, reading the primary: %r", exc)
        return False


async def _replayed(session: AsyncSession, lsn: str) -> bool:
    """Whether the standby of ``session`` has replayed the WAL up to ``lsn``."""
    result = await session.execute(
        text(
            "SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(CAST(:lsn AS text) AS pg_lsn), false)"
        ),
        {"lsn": lsn},
    )
    return bool(result.scalar_one())


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
            note_write()


class SqliteCheckpointer:
    """Checkpoints the SQLite WAL in the background, once a second.

    Left to the writers, the commit that fills ``wal_autocheckpoint`` pages copies
    them into the database file and syncs it while holding the write lock, and every
    writer queued behind it waits (the long tail of ingest latencies). A PASSIVE
    checkpoint on a connection of its own runs beside the writer (it takes no write
    lock and copies only committed frames), on that connection's thread, and keeps
    the WAL short enough that a writer restarts it from the beginning. Durability is
    unchanged: a commit is in the WAL before it is acknowledged, checkpointed or not.
    """

    def __init__(self, engine: AsyncEngine, *, every: float = 1.0) -> None:
        self.engine = engine
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="creditbank-sqlite-checkpoint")

    async def checkpoint(self) -> None:
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None  # noqa: S101 - a pooled connection is open
            # The driver connection emits no BEGIN: a checkpoint outside any transaction.
            cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
            await cursor.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.checkpoint()
            except DBAPIError:  # busy or locked for a moment: the next round does it
                continue

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
