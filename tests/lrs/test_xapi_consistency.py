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
