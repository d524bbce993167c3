"""``CREDITBANK_READ_DATABASE_URL``: unset (or empty) means every read on the primary;
it is refused unless both it and the primary are PostgreSQL. The replica tests
themselves (a real primary and hot standby) are in tests/replication."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from creditbank.config import Settings
from creditbank.db import Database, on_standby

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/x"


def test_unset_or_empty_is_no_standby(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().read_database_url is None
    monkeypatch.setenv("CREDITBANK_READ_DATABASE_URL", "")
    assert Settings(database_url=PG).read_database_url is None
    monkeypatch.setenv("CREDITBANK_READ_DATABASE_URL", PG)
    monkeypatch.setenv("CREDITBANK_READ_DATABASE_POOL_SIZE", "3")
    settings = Settings(database_url=PG)
    assert (settings.read_database_url, settings.read_database_pool_size) == (PG, 3)


@pytest.mark.parametrize(
    ("primary", "standby"),
    [("sqlite+aiosqlite:///x.db", PG), (PG, "sqlite+aiosqlite:///x.db")],
)
def test_a_standby_needs_postgresql_on_both_sides(primary: str, standby: str) -> None:
    with pytest.raises(ValidationError, match="READ_DATABASE_URL"):
        Settings(database_url=primary, read_database_url=standby)


async def test_without_a_standby_replica_reads_are_on_the_primary(db: Database) -> None:
    assert db.standby_engine is None
    async with db.replica_scope(after="0/0") as session:
        assert not on_standby(session)
    async with db.replica_scope() as session:
        assert not on_standby(session)


async def test_without_a_standby_no_write_mark_is_taken(
    client: httpx.AsyncClient, app: object
) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert getattr(app.state, "write_marks", None) is None  # type: ignore[attr-defined]
