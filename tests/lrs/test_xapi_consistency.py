"""X-Experience-API-Consistent-Through: "now" only while no statement append is in flight
(SQLite and PostgreSQL)."""

from __future__ import annotations

from creditbank.db import Database
from creditbank.lrs.repository import StatementRepository


async def idle(db: Database) -> bool:
    async with db.read_scope() as session:
        return await StatementRepository.from_session(session).writers_idle()


async def test_a_writer_holding_the_append_lock_is_seen(db: Database):
    assert await idle(db)
    async with db.sessionmaker() as writer:
        await StatementRepository.from_session(writer).lock_for_append()
        assert not await idle(db)
        await writer.commit()
    assert await idle(db)


async def test_a_rolled_back_writer_releases_it(db: Database):
    async with db.sessionmaker() as writer:
        await StatementRepository.from_session(writer).lock_for_append()
        assert not await idle(db)
        await writer.rollback()
    assert await idle(db)


async def test_a_post_is_in_flight_from_its_first_query(db: Database, fxvs, monkeypatch):
    """The ownership check is the append's first query: on SQLite the transaction (BEGIN
    IMMEDIATE) must already be behind the write gate there, else writers overtake each
    other on SQLite's busy handler and Consistent-Through says "now" mid-append."""
    from creditbank.lrs import service

    seen: list[bool] = []
    real = service.check_ownership  # type: ignore[attr-defined]

    async def spy(*args, **kwargs):
        seen.append(await idle(db))
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "check_ownership", spy)
    response = await fxvs.post([fxvs.statement()])
    assert response.status_code == 200, response.text
    if db.dialect == "sqlite":
        assert seen == [False]
    else:  # PostgreSQL takes its append lock after the checks, which run concurrently
        assert seen == [True]
    assert await idle(db)
