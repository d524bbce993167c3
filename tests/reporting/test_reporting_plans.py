"""The dashboard's aggregates are planned on their time-column indexes at scale.

Each table the dashboard groups is loaded with enough rows for a sequential scan to
be the wrong plan — five years of history of which the dashboard's twelve-month
window is a fifth — and then the maintenance job (``jobs.analyze_stale``) finds the
tables stale and ANALYZEs them, as the worker does every ten minutes (issue 14: a
range filter's plan depends on statistics; without any, PostgreSQL guesses a third
of the table matches and scans all four tables sequentially). Every query
``reporting.dashboard`` sends is EXPLAINed as sent and none may scan its table
sequentially: without rollups (the live queries over the windows), and once the
``reporting.rollup`` job has folded the load in (the rollups, and the live rows
since the watermark on the same indexes).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.db import Database, ReadSession
from creditbank.identity.principal import Principal
from creditbank.jobs.repository import StatisticsRepository
from creditbank.jobs.service import jobs as jobs_service
from creditbank.reporting.service import reporting as reporting_service
from creditbank.reporting.service import roll_up

pytestmark = pytest.mark.postgres

ROWS = 60_000
NOW = datetime(2026, 12, 2, tzinfo=UTC)
#: One row every ~44 minutes back from NOW: 60,000 rows span five years.
STEP = "2628 seconds"
OPERATOR = Principal(kind="user", roles=frozenset({"operator"}))

#: Per table, the columns the test sets; every other NOT NULL column gets a neutral
#: value of its type (the loader reads them from the catalog).
OVERRIDES: dict[str, dict[str, str]] = {
    "rule_outcomes": {
        "recognised_at": "CAST(:now AS timestamptz) - g * interval '{step}'",
        "statement_timestamp": "CAST(:now AS timestamptz) - g * interval '{step}'",
        "institution_key": "'inst' || (g % 200)",
        "credits": "100 + g % 300",
        "status": "'superseded'",
    },
    "ledger_entries": {
        "posted_at": "CAST(:now AS timestamptz) - g * interval '{step}'",
        "learner_id": "gen_random_uuid()",
        "seq": "1",
        "kind": "'deposit'",
        "amount": "100",
        "banked": "100",
        "available": "100",
        "converted": "0",
        "expired": "0",
        "idempotency_key": "'k' || g",
    },
    "conversion_applications": {
        "created_at": "CAST(:now AS timestamptz) - g * interval '{step}'",
        "decided_at": "CAST(:now AS timestamptz) - g * interval '{step}' + interval '1 day'",
        "status": "CASE WHEN g % 3 = 0 THEN 'rejected' ELSE 'approved' END",
        "target_institution_key": "'inst' || (g % 200)",
        "credits": "100",
        "required_approvals": "1",
    },
    "rule_evaluations": {
        "evaluated_at": "CAST(:now AS timestamptz) - g * interval '{step}'",
        "institution_key": "'inst' || (g % 200)",
        "kind": "'recognition'",
    },
}

NEUTRAL = {
    "uuid": "gen_random_uuid()",
    "text": "'x'",
    "character varying": "'x'",
    "integer": "1",
    "bigint": "1",
    "smallint": "1",
    "boolean": "false",
    "jsonb": "'{{}}'::jsonb",
    "json": "'{{}}'::json",
    "timestamp with time zone": "CAST(:now AS timestamptz)",
    "date": "CAST(:now AS date)",
    "numeric": "1",
}


async def _load(session: AsyncSession, table: str) -> None:
    columns = await session.execute(
        text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = :t AND is_nullable = 'NO' AND column_default IS NULL"
        ),
        {"t": table},
    )
    values = dict(OVERRIDES[table])
    for name, data_type in columns.all():
        values.setdefault(name, NEUTRAL[data_type])
    names = ", ".join(values)
    exprs = ", ".join(v.format(step=STEP) for v in values.values())
    await session.execute(
        text(f"INSERT INTO {table} ({names}) SELECT {exprs} FROM generate_series(1, :n) AS g"),
        {"now": NOW, "n": ROWS},
    )


async def _load_all(db: Database) -> None:
    async with db.session_scope() as session:
        # Synthetic rows: no learner, statement or chain behind them, so neither the
        # foreign keys nor the ledger's triggers are asked (a superuser's session only).
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        for table in OVERRIDES:
            await _load(session, table)
        # The backend reports its row counts when idle; ask it not to wait.
        await session.execute(text("SELECT pg_stat_force_next_flush()"))
    # The maintenance job finds the load stale and ANALYZEs it (as the worker would).
    for _ in range(300):
        async with db.read_scope() as session:
            stats = await StatisticsRepository.from_session(session).staleness(list(OVERRIDES))
        if all(s.modified >= ROWS for s in stats):
            break
        await asyncio.sleep(0.2)
    async with db.session_scope() as session:
        analyzed = await jobs_service.analyze_stale(session)
    assert set(OVERRIDES) <= set(analyzed)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _dashboard(session: ReadSession) -> None:
    await reporting_service.dashboard(session, OPERATOR, now=NOW)


async def _explained(
    db: Database, run: Callable[[ReadSession], Awaitable[None]] = _dashboard
) -> list[tuple[str, list[dict[str, Any]]]]:
    plans: list[tuple[str, list[dict[str, Any]]]] = []

    def explain(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            (document,) = cursor.fetchone()
            plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
            plans.append((statement, _nodes(plan)))

    async with db.read_scope() as session:
        engine = (await session.connection()).sync_engine
        event.listen(engine, "before_cursor_execute", explain)
        try:
            await run(session)
        finally:
            event.remove(engine, "before_cursor_execute", explain)
    return plans


async def test_every_dashboard_aggregate_uses_its_time_index(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    await _load_all(db)
    plans = await _explained(db)
    assert len(plans) >= 5
    problems: list[str] = []
    used: set[str] = set()
    for statement, nodes in plans:
        for node in nodes:
            if node.get("Index Name"):
                used.add(node["Index Name"])
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in OVERRIDES:
                problems.append(f"sequential scan of {node['Relation Name']}: {statement}")
    for index in (
        "ix_rule_outcomes_recognised",
        "ix_ledger_entries_posted",
        "ix_conversion_applications_created",
        "ix_conversion_applications_decided",
    ):
        if index not in used:
            problems.append(f"{index} is not used (used: {sorted(used)})")
    assert not problems, "\n".join(problems)


async def test_the_rolled_up_dashboard_reads_rollups_and_indexed_tails(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    await _load_all(db)
    async with db.session_scope() as session:
        await roll_up(session, now=NOW)
    plans = await _explained(db)
    read = {n.get("Relation Name") for _, nodes in plans for n in nodes}
    assert {"reporting_rollups", "reporting_outcome_months", "reporting_active_months"} <= read
    assert "reporting_statement_days" in read
    used = {n.get("Index Name") for _, nodes in plans for n in nodes}
    for index in ("ix_rule_outcomes_recognised", "ix_ledger_entries_posted"):
        assert index in used, (index, sorted(i for i in used if i))
    for statement, nodes in plans:
        for node in nodes:
            assert not (
                node["Node Type"] == "Seq Scan" and node.get("Relation Name") in OVERRIDES
            ), statement


async def test_institution_statistics_use_the_evaluations_index(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    await _load_all(db)

    async def ingest(session: ReadSession) -> None:
        await reporting_service.ingest(
            session, OPERATOR, institution_id=uuid.uuid4(), institution_key="inst7", now=NOW
        )

    plans = await _explained(db, ingest)
    used = {n.get("Index Name") for _, nodes in plans for n in nodes}
    assert "ix_rule_evaluations_institution" in used, plans
    for statement, nodes in plans:
        for node in nodes:
            assert not (
                node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "rule_evaluations"
            ), statement
