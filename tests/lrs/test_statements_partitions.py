"""Statements across stored months: on PostgreSQL each month is its own partition, and a
statement id stays unique across them (the duplicate check runs under the append lock),
so the same statement again a month later is a no-op and a different one is 409."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from creditbank.db import Database
from creditbank.kit.partitions import add_months, month_start
from creditbank.kit.time import utc_now
from creditbank.lrs import service as lrs_service
from creditbank.lrs.models import Statement


async def _where(db: Database) -> dict[str, str]:
    """statement id -> the partition holding it (PostgreSQL)."""
    async with db.read_scope() as session:
        rows = await session.execute(
            text("SELECT id::text, tableoid::regclass::text FROM lrs_statements")
        )
        return {str(r[0]): str(r[1]) for r in rows}


async def test_an_id_stays_unique_across_months(
    fxvs, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())
    statement = fxvs.statement(timestamp="2026-03-01T08:00:00.000Z")
    assert (await fxvs.put(statement, first_id)).status_code == 204

    next_month = add_months(month_start(utc_now()), 1) + timedelta(hours=2)
    monkeypatch.setattr(lrs_service, "utc_now", lambda: next_month)
    assert (await fxvs.put(statement, first_id)).status_code == 204  # same: a no-op
    conflict = await fxvs.put(fxvs.statement(learner="20230002"), first_id)
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "statement_conflict"
    posted = await fxvs.post([{**fxvs.statement(learner="20230002"), "id": first_id}])
    assert posted.status_code == 409
    assert (await fxvs.put(fxvs.statement(learner="20230003"), second_id)).status_code == 204

    async with db.read_scope() as session:
        assert (await session.execute(select(func.count()).select_from(Statement))).scalar() == 2
    if db.dialect == "postgresql":
        now = utc_now()
        assert await _where(db) == {
            first_id: f"lrs_statements_{now.year:04d}_{now.month:02d}",
            second_id: f"lrs_statements_{next_month.year:04d}_{next_month.month:02d}",
        }
    # Both months answer: by id, by filter (newest first), and since/until.
    for statement_id in (first_id, second_id):
        got = await fxvs.get({"statementId": statement_id})
        assert got.status_code == 200
        assert got.json()["id"] == statement_id
    verb = statement["verb"]["id"]
    assert await fxvs.stored_ids({"verb": verb, "limit": "1"}) == [second_id, first_id]
    since = (next_month - timedelta(hours=1)).isoformat()
    assert await fxvs.stored_ids({"since": since}) == [second_id]
    assert await fxvs.stored_ids({"until": since}) == [first_id]


async def test_the_migration_keeps_the_statements_present(db: Database) -> None:
    """Downgrade to the plain table, store statements of two months, upgrade: every row
    kept, in its month, and the keys know their statement's stored time."""
    if db.dialect != "postgresql":
        pytest.skip("the conversion is PostgreSQL's (SQLite only gains the keys' column)")
    import asyncio

    from alembic import command

    from creditbank.migrate import alembic_config

    url = db.write_engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "lrs_0003")
    async with db.session_scope() as session:
        await session.execute(
            text(
                "INSERT INTO lrs_statements (seq, id, verb_id, object_type, stored, timestamp, "
                "voided, is_voiding, version, has_attachments, body) "
                "SELECT g, gen_random_uuid(), 'v', 'Activity', "
                "TIMESTAMPTZ '2025-10-30T00:00:00Z' + g * interval '1 day', "
                "TIMESTAMPTZ '2025-10-30T00:00:00Z', false, false, '1.0.3', false, "
                "jsonb_build_object('n', g) FROM generate_series(1, 4) AS g"
            )
        )
        await session.execute(
            text(
                "INSERT INTO lrs_statement_keys (key_hash, statement_seq, related) "
                "SELECT 7, g, false FROM generate_series(1, 4) AS g"
            )
        )
    async with db.read_scope() as session:
        before = [
            tuple(r)
            for r in await session.execute(text("SELECT * FROM lrs_statements ORDER BY seq"))
        ]
    await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
    async with db.read_scope() as session:
        after = [
            tuple(r)
            for r in await session.execute(text("SELECT * FROM lrs_statements ORDER BY seq"))
        ]
        keys = [
            tuple(r)
            for r in await session.execute(
                text(
                    "SELECT k.statement_seq, k.statement_stored = s.stored "
                    "FROM lrs_statement_keys k JOIN lrs_statements s ON s.seq = k.statement_seq "
                    "ORDER BY 1"
                )
            )
        ]
        kind = (
            await session.execute(
                text("SELECT relkind::text FROM pg_class WHERE relname = 'lrs_statements'")
            )
        ).scalar_one()
    assert after == before
    assert keys == [(1, True), (2, True), (3, True), (4, True)]
    assert kind == "p"
    where = sorted((await _where(db)).values())
    assert where == ["lrs_statements_2025_10"] + ["lrs_statements_2025_11"] * 3
