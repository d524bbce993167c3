"""Fixtures: every database test runs on SQLite and on PostgreSQL.

Each test session creates its own databases (a SQLite file, a PostgreSQL database
with a random name), migrates them with Alembic (which tests the migrations too)
and drops them at the end, so two runs on one machine never collide.

Isolation between tests is by emptying every table after each test rather than by
an outer transaction and savepoints: tests here need real commits (concurrent
approvals, a worker in another process, a real uvicorn server), which a rolled
back outer transaction cannot give.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from creditbank.bootstrap import register_data_rights
from creditbank.config import Settings
from creditbank.db import Base, Database, import_all_models
from creditbank.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "CREDITBANK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class TestDatabase:
    """One migrated throwaway database of the test session."""

    dialect: str
    url: str


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(statement: str) -> None:
    import asyncpg

    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _create_pg_database() -> str:
    name = f"creditbank_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc!r}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL is required)")
        pytest.skip(message)
    return name


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabase]:
    """A migrated database per dialect for the whole session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "creditbank.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield TestDatabase("sqlite", url)
        return
    name = _create_pg_database()
    url = _pg_url(name)
    try:
        upgrade(url)
        yield TestDatabase("postgresql", url)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(autouse=True, scope="session")
def _data_rights_registered() -> None:
    """What every entry point does at start-up; tests also call services without one."""
    register_data_rights()


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database.url,
        key_dir=tmp_path / "keys",
        auto_migrate=False,
        worker={"in_process": False},
    )


async def _empty_all_tables(db: Database) -> None:
    import_all_models()
    tables = [t.name for t in Base.metadata.sorted_tables]
    async with db.write_engine.begin() as connection:
        if db.dialect == "postgresql":
            names = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            await connection.execute(text("PRAGMA defer_foreign_keys=ON"))
            for name in reversed(tables):
                await connection.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The engines of the test database; every table is emptied after the test."""
    database = Database.from_settings(settings)
    try:
        yield database
    finally:
        await _empty_all_tables(database)
        await database.dispose()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking data; commit explicitly when a request must see it."""
    async with db.sessionmaker() as session:
        yield session


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]


@pytest.fixture
def live_server(settings: Settings, db: Database, tmp_path: Path) -> Iterator[LiveServer]:
    """A real ``creditbank serve`` (uvicorn) process on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "CREDITBANK_ENV": "test",
        "CREDITBANK_DATABASE_URL": settings.database_url,
        "CREDITBANK_KEY_DIR": str(tmp_path / "keys"),
        "CREDITBANK_AUTO_MIGRATE": "false",
        "CREDITBANK_LOG_LEVEL": "WARNING",
        "CREDITBANK_WORKER__IN_PROCESS": "false",
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "creditbank.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded 2-core machine (CI runs two test workers)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((tmp_path / "server.log").read_text())
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("server did not start")
    try:
        yield LiveServer(url=url, process=process, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
