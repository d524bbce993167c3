"""Fixtures of the read-replica tests: a real primary and hot standby of their own.

The session starts the two clusters (``clusters.Replication``), migrates a database on
the primary and waits for the standby to replay it. Every test of this folder gets
settings with ``read_database_url`` pointing at the standby; ``db``, ``app`` and
``client`` are the root conftest's, on these settings. A missing ``initdb`` skips the
tests on a developer's machine and fails them in CI (``CI=true``), as an unreachable
PostgreSQL does for the other database tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.migrate import upgrade
from tests.conftest import IN_CI
from tests.replication.clusters import Replication, find_bindir, make_root

DATABASE = "creditbank"


@dataclass(frozen=True)
class Clusters:
    primary_url: str
    standby_url: str
    #: asyncpg DSN of the standby (for pausing and resuming its replay).
    standby_dsn: str


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _create_database(primary: str) -> None:
    connection = await asyncpg.connect(_dsn(primary), timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


async def _wait_for_standby(database: Database, timeout: float = 30.0) -> None:
    lsn = await database.primary_lsn()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with database.replica_scope(after=lsn) as session:
            if session.info.get("standby"):
                return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the standby did not replay {lsn} in {timeout} s")


@pytest.fixture(scope="session")
def clusters() -> Iterator[Clusters]:
    bindir = find_bindir()
    if bindir is None:
        message = "no PostgreSQL server programs (initdb) for the replica tests"
        if IN_CI:
            pytest.fail(message + " (CI=true: they are required)")
        pytest.skip(message)
    replication = Replication(bindir, make_root())
    try:
        try:
            replication.start()
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{replication.logs()}") from exc
        postgres = replication.primary.url("postgres")
        asyncio.run(_create_database(postgres))
        primary, standby = replication.primary.url(DATABASE), replication.standby.url(DATABASE)
        upgrade(primary)
        database = Database.from_url(primary, standby_url=standby)

        async def replayed() -> None:
            try:
                await _wait_for_standby(database)
            finally:
                await database.dispose()

        asyncio.run(replayed())
        yield Clusters(primary, standby, _dsn(standby))
    finally:
        replication.stop()


@pytest.fixture
def settings(clusters: Clusters, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=clusters.primary_url,
        read_database_url=clusters.standby_url,
        read_database_pool_size=4,
        key_dir=tmp_path / "keys",
        auto_migrate=False,
        worker={"in_process": False},
    )


class Standby:
    """The standby's replay, paused and resumed for real."""

    def __init__(self, dsn: str, database: Database) -> None:
        self.dsn = dsn
        self.database = database

    async def _query(self, sql: str) -> object:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            return await connection.fetchval(sql)
        finally:
            await connection.close()

    async def pause(self) -> None:
        await self._query("SELECT pg_wal_replay_pause()")
        for _ in range(200):
            if await self._query("SELECT pg_get_wal_replay_pause_state()") == "paused":
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the standby's replay did not pause")

    async def resume(self) -> None:
        await self._query("SELECT pg_wal_replay_resume()")

    async def caught_up(self) -> None:
        """Wait until the standby has replayed everything the primary committed so far."""
        await _wait_for_standby(self.database)


@pytest.fixture
async def standby(clusters: Clusters, db: Database) -> AsyncIterator[Standby]:
    """The standby, caught up; resumed after the test (before the tables are emptied)."""
    control = Standby(clusters.standby_dsn, db)
    await control.caught_up()
    try:
        yield control
    finally:
        await control.resume()
        await control.caught_up()
