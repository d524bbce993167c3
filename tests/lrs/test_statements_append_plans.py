"""The append's lookups by statement id stay on the id index when the statistics are
from a tiny table.

SQLite plans from ``sqlite_stat1`` as the last ANALYZE left it and never scales it by
the table's size: analyzed at a handful of statements (a new installation, the demo),
``id IN (100 ids)`` was planned as a scan of the whole table, so each batch of an
ingest read every statement stored before it (issue 14: SQLite ingest fell from
3,300 to 1,900 statements/s over the second 20,000 statements). Here the statistics
are taken at six statements; then a batch of 100 is stored (three of them already
stored, three voiding stored ones), the rules worker's batch read runs, and on SQLite
every query they send is EXPLAINed as it is sent: none may scan the statements.
Both databases: the answers (idempotent resends, voiding, a conflict) are checked on
each; PostgreSQL scales the analyzed density by the table's current size, so its
plans are the plans test's business (tests/lrs/test_statements_plans.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from creditbank.config import Settings
from creditbank.db import Database
from creditbank.lrs.repository import SQLITE_ID_INDEX
from creditbank.lrs.service import get_statements_for_processing
from tests.lrs.conftest import VOIDED, Lrs

pytestmark = pytest.mark.postgres

#: Tables whose statistics the test takes while they are tiny.
ANALYZED = ("lrs_statements", "lrs_statement_keys", "jobs")


def _voiding(lrs: Lrs, target: str) -> dict[str, Any]:
    return {
        "actor": lrs.actor("admin"),
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }


@pytest.fixture
async def stats_restored(db: Database) -> AsyncIterator[None]:
    """SQLite: put back the statistics rows of ANALYZED as they were (the session's
    database is shared by the tests of this xdist worker)."""
    saved: list[Any] = []
    if db.dialect == "sqlite":
        async with db.write_engine.begin() as connection:
            if await _has_stat1(connection):
                saved = list(
                    await connection.execute(
                        text(
                            "SELECT tbl, idx, stat FROM sqlite_stat1 "
                            "WHERE tbl IN ('lrs_statements', 'lrs_statement_keys', 'jobs')"
                        )
                    )
                )
    yield
    if db.dialect == "sqlite":
        async with db.write_engine.begin() as connection:
            if await _has_stat1(connection):
                await connection.execute(
                    text(
                        "DELETE FROM sqlite_stat1 "
                        "WHERE tbl IN ('lrs_statements', 'lrs_statement_keys', 'jobs')"
                    )
                )
                for row in saved:
                    await connection.execute(
                        text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:t, :i, :s)"),
                        {"t": row[0], "i": row[1], "s": row[2]},
                    )


async def _has_stat1(connection: Any) -> bool:
    found = await connection.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    )
    return found.first() is not None


def _explain_sqlite(engine: AsyncEngine, plans: list[tuple[str, list[str]]]) -> Any:
    """A listener recording the SQLite plan of every SELECT / UPDATE sent on ``engine``."""

    def explain(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "UPDATE") and not many:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append((statement, [str(row[3]) for row in cursor.fetchall()]))

    event.listen(engine.sync_engine, "before_cursor_execute", explain)
    return explain


@pytest.mark.usefixtures("stats_restored")
async def test_id_lookups_of_the_append_ignore_statistics_of_a_tiny_table(
    fxvs: Lrs, settings: Settings, db: Database
) -> None:
    stored = [{**fxvs.statement(learner=f"s{n}"), "id": str(uuid.uuid4())} for n in range(6)]
    assert (await fxvs.post(stored)).status_code == 200
    async with db.session_scope() as session:
        for table in ANALYZED:
            await session.execute(text(f"ANALYZE {table}"))

    # A new process: its connections load the statistics just taken.
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        database: Database = app.state.database
        plans: list[tuple[str, list[str]]] = []
        listeners = []
        if database.dialect == "sqlite":
            listeners = [
                (engine, _explain_sqlite(engine, plans))
                for engine in (database.write_engine, database.read_engine)
            ]
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                lrs = Lrs(c, fxvs.institution)
                new = [
                    {**lrs.statement(learner=f"n{n}"), "id": str(uuid.uuid4())} for n in range(94)
                ]
                voiding = [_voiding(lrs, s["id"]) for s in stored[3:]]
                batch = stored[:3] + new + voiding
                response = await lrs.post(batch)
                assert response.status_code == 200, response.text
                assert len(response.json()) == 100

                for target in stored[3:]:
                    assert (await lrs.get({"statementId": target["id"]})).status_code == 404
                    voided = await lrs.get({"voidedStatementId": target["id"]})
                    assert voided.status_code == 200
                for kept in stored[:3]:
                    assert (await lrs.get({"statementId": kept["id"]})).status_code == 200
                changed = {**stored[0], "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
                assert (await lrs.post([changed])).status_code == 409

            async with database.session_scope() as session:
                wanted = [uuid.UUID(s["id"]) for s in stored + new]
                found = await get_statements_for_processing(session, wanted)
                assert set(found) == set(wanted)
        finally:
            for engine, listener in listeners:
                event.remove(engine.sync_engine, "before_cursor_execute", listener)
        async with database.read_scope() as session:
            count = await session.execute(text("SELECT count(*) FROM lrs_statements"))
            assert count.scalar_one() == 6 + 94 + 3

    if settings.database_url.startswith("sqlite"):
        by_id = [plan for statement, plan in plans if re.search(r"(^|[\s.])id IN \(", statement)]
        # The duplicate check, the voided targets' lookup and flag, the worker's read.
        assert len(by_id) >= 4, plans
        # A scan that a LIMIT stops (the last statement's seq) reads a row or two.
        problems = [
            f"{statement[:120]}: {line}"
            for statement, plan in plans
            for line in plan
            if line.startswith("SCAN")
            and any(t in line.split() for t in ANALYZED)
            and "LIMIT" not in statement
        ]
        assert not problems, "\n".join(problems)
        assert all(any(SQLITE_ID_INDEX in line for line in plan) for plan in by_id), by_id


async def test_sqlite_id_index_is_the_unique_index_of_the_statement_id(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite names the index of a UNIQUE constraint itself")
    async with db.read_engine.connect() as connection:
        indexes = (await connection.execute(text("PRAGMA index_list(lrs_statements)"))).all()
        unique = {row[1] for row in indexes if row[2]}
        assert SQLITE_ID_INDEX in unique
        columns = await connection.execute(text(f"PRAGMA index_info({SQLITE_ID_INDEX})"))
        assert [row[2] for row in columns] == ["id"]
