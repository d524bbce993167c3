"""Every statements GET shape is planned on an index, even with no statistics at all.

The table is loaded with enough rows for a sequential scan to be the wrong plan and
never ANALYZEd (this machine's and CI's PostgreSQL run with autovacuum off, and an
operator's database is stale after a bulk load): each query the repository sends
for a page (the ``since``/``until`` lookups too) is EXPLAINed as it is sent, and
none may scan ``lrs_statements`` sequentially or walk its primary key unbounded.

On PostgreSQL ``lrs_statements`` is partitioned by stored month: the rows span four
months (one every STEP seconds), every partition counts as ``lrs_statements``, and
``since``/``until`` must leave the months outside their range unread.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from creditbank.db import Database
from creditbank.kit.partitions.repository import PartitionRepository
from creditbank.lrs.keys import key_hash
from creditbank.lrs.models import KeyKind
from creditbank.lrs.query import Cursor, StatementQuery
from creditbank.lrs.repository import StatementRepository
from creditbank.migrate import upgrade

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def _never_analyzed_url(database: Any) -> Iterator[str | None]:
    """A database of this module's own on PostgreSQL (None on SQLite): the session's
    database may have been ANALYZEd by another test file run before this one on the
    same xdist worker (``jobs.analyze_stale``), and these plans need no statistics."""
    if database.dialect != "postgresql":
        yield None
        return
    from tests.conftest import _create_pg_database, _pg_admin, _pg_url

    name = _create_pg_database()
    try:
        upgrade(_pg_url(name))
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(db: Database, _never_analyzed_url: str | None) -> AsyncIterator[Database]:
    """The session's database on SQLite; this module's own on PostgreSQL."""
    if _never_analyzed_url is None:
        yield db
        return
    from tests.conftest import _empty_all_tables

    own = Database.from_url(_never_analyzed_url)
    try:
        yield own
    finally:
        await _empty_all_tables(own)
        await own.dispose()


ROWS = 60_000
START = datetime(2026, 1, 1, tzinfo=UTC)
#: Seconds between two statements: ROWS of them span January to mid-April 2026.
STEP = 150
AGENTS = [f"mbox:mailto:learner{n}@example.com" for n in range(200)]
VERBS = [f"http://adlnet.gov/expapi/verbs/v{n}" for n in range(10)]
ACTIVITIES = [f"https://example.edu.cn/courses/{n}" for n in range(300)]
REGISTRATIONS = [str(uuid.UUID(int=n + 1)) for n in range(100)]


def _at(n: int) -> datetime:
    """The stored time of statement ``n``."""
    return START + timedelta(seconds=n * STEP)


def _month_of(n: int) -> str:
    at = _at(n)
    return f"lrs_statements_{at.year:04d}_{at.month:02d}"


def _statements_relation(name: str | None) -> bool:
    return bool(name) and (name == "lrs_statements" or str(name).startswith("lrs_statements_"))


def _hashes(kind: str, values: list[str]) -> list[int]:
    return [key_hash(kind, value) for value in values]


async def _load(db: Database) -> None:
    """ROWS statements (one every STEP seconds from START) and their filter keys; no
    ANALYZE."""
    async with db.session_scope() as session:
        await PartitionRepository.from_session(session).ensure_range(
            "lrs_statements", "stored", start=_at(0), end=_at(ROWS)
        )
        await session.execute(
            text(
                "INSERT INTO lrs_statements (seq, id, actor_key, verb_id, object_type, "
                "object_activity_id, stored, timestamp, voided, is_voiding, version, "
                "has_attachments, body) "
                "SELECT g, gen_random_uuid(), 'a' || (g % 200), 'v' || (g % 10), 'Activity', "
                "'c' || (g % 300), CAST(:start AS timestamptz) + g * :step * interval '1 second', "
                "CAST(:start AS timestamptz) + g * :step * interval '1 second', false, false, "
                "'1.0.3', false, '{}'::jsonb FROM generate_series(1, :n) AS g"
            ),
            {"start": START, "n": ROWS, "step": STEP},
        )
        for hashes, modulo, related in (
            (_hashes(KeyKind.AGENT, AGENTS), 200, False),
            (_hashes(KeyKind.VERB, VERBS), 10, False),
            (_hashes(KeyKind.ACTIVITY, ACTIVITIES), 300, False),
            (_hashes(KeyKind.REGISTRATION, REGISTRATIONS), 100, False),
            # a context activity of every statement: found only with related_activities
            (_hashes(KeyKind.ACTIVITY, ACTIVITIES[::-1]), 300, True),
        ):
            await session.execute(
                text(
                    "INSERT INTO lrs_statement_keys "
                    "(key_hash, statement_seq, related, statement_stored) "
                    "SELECT (CAST(:hashes AS bigint[]))[1 + g % :m], g, :related, "
                    "CAST(:start AS timestamptz) + g * :step * interval '1 second' "
                    "FROM generate_series(1, :n) AS g ON CONFLICT DO NOTHING"
                ),
                {
                    "hashes": hashes,
                    "m": modulo,
                    "n": ROWS,
                    "related": related,
                    "start": START,
                    "step": STEP,
                },
            )
        analyzed = await session.execute(
            text(
                "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
                "WHERE relname = 'lrs_statements'"
            )
        )
        assert analyzed.scalar() is None, "the test needs a never-analyzed table"


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _plans(
    db: Database, query: StatementQuery, *, analyze: bool = False
) -> list[tuple[str, list[dict[str, Any]]]]:
    """The plan of every query the repository sends for one page, EXPLAINed as sent
    (``analyze``: run, with the actual figures)."""
    plans: list[tuple[str, list[dict[str, Any]]]] = []
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"

    def explain(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            cursor.execute(f"EXPLAIN ({options}) " + statement, parameters)
            (document,) = cursor.fetchone()
            plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
            plans.append((statement, _nodes(plan)))

    async with db.read_scope() as session:
        engine = (await session.connection()).sync_engine
        event.listen(engine, "before_cursor_execute", explain)
        try:
            await StatementRepository.from_session(session).query(
                query, institution_id=None, bound=ROWS
            )
        finally:
            event.remove(engine, "before_cursor_execute", explain)
    return plans


SHAPES: dict[str, StatementQuery] = {
    "agent": StatementQuery(agent=AGENTS[7], limit=50),
    "verb": StatementQuery(verb=VERBS[3], limit=50),
    "activity": StatementQuery(activity=ACTIVITIES[11], limit=50),
    "registration": StatementQuery(registration=REGISTRATIONS[5], limit=50),
    "related_activities": StatementQuery(
        activity=ACTIVITIES[20], related_activities=True, limit=50
    ),
    "related_agents": StatementQuery(agent=AGENTS[9], related_agents=True, limit=50),
    "agent+verb": StatementQuery(agent=AGENTS[7], verb=VERBS[7], limit=50),
    # recent: a few rows match (the shape PostgreSQL misplanned at 1M without stats)
    "since": StatementQuery(since=_at(ROWS - 30), limit=50),
    "since-old": StatementQuery(since=_at(100), limit=50),
    "until": StatementQuery(until=_at(500), limit=50),
    "since+until": StatementQuery(since=_at(1000), until=_at(2000), limit=50),
    "since-ascending": StatementQuery(since=_at(ROWS - 300), ascending=True, limit=50),
    "agent+since": StatementQuery(agent=AGENTS[3], since=_at(ROWS - 5000), limit=50),
    "more": StatementQuery(limit=50, cursor=Cursor(position=ROWS // 2, bound=ROWS)),
    "agent more": StatementQuery(
        agent=AGENTS[7], limit=50, cursor=Cursor(position=ROWS // 2, bound=ROWS)
    ),
    "since more": StatementQuery(
        since=_at(ROWS - 3000),
        limit=50,
        cursor=Cursor(position=ROWS - 1000, bound=ROWS),
    ),
}


async def test_every_query_shape_uses_an_index_without_statistics(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    await _load(db)
    problems: list[str] = []
    for name, query in SHAPES.items():
        plans = await _plans(db, query)
        assert plans, name
        for _statement, nodes in plans:
            for node in nodes:
                relation = node.get("Relation Name")
                index = str(node.get("Index Name") or "")
                primary = index == "pk_lrs_statements" or (
                    _statements_relation(relation) and index.endswith("_pkey")
                )
                if _statements_relation(relation) and node["Node Type"] == "Seq Scan":
                    problems.append(f"{name}: sequential scan of {relation}")
                if (
                    primary
                    and "Index Cond" not in node
                    and node["Node Type"] != "Index Scan"  # a bounded join probe is fine
                ):
                    problems.append(f"{name}: unbounded walk of the primary key")
                if (
                    primary
                    and "Index Cond" not in node
                    and "Filter" in node
                    and "stored" in node["Filter"]
                ):
                    problems.append(f"{name}: primary key walked filtering on stored")
            if name.startswith("since") or name == "until":
                used = {str(n.get("Index Name")) for _, ns in plans for n in ns}
                if not any(
                    i == "ix_lrs_statements_stored_seq" or i.endswith("_stored_seq_idx")
                    for i in used
                ):
                    problems.append(f"{name}: the (stored, seq) index is not used")
    assert not problems, "\n".join(problems)


async def test_since_until_answers_are_exact(db: Database) -> None:
    """The seq range is only a bound: the time filters decide, on both databases."""
    if db.dialect != "postgresql":
        pytest.skip("loaded with PostgreSQL's generate_series")
    await _load(db)
    async with db.read_scope() as session:
        repo = StatementRepository.from_session(session)
        page = await repo.query(
            StatementQuery(
                since=_at(1000),
                until=_at(1010),
                limit=50,
            ),
            institution_id=None,
            bound=ROWS,
        )
        assert [seq for seq, _, _ in page.rows] == list(range(1010, 1000, -1))
        empty = await repo.query(
            StatementQuery(since=_at(ROWS + 5), limit=50),
            institution_id=None,
            bound=ROWS,
        )
        assert empty.rows == []


#: since/until shapes -> the months their plans may read (the ones their range touches;
#: months after the data, and the default partition, are empty but may be listed).
PRUNED: dict[str, tuple[set[str], set[str]]] = {
    # (must read, must not read)
    "since": ({_month_of(ROWS)}, {_month_of(0), _month_of(ROWS // 2)}),
    "until": ({_month_of(0)}, {_month_of(ROWS // 2), _month_of(ROWS)}),
    "since+until": ({_month_of(1000)}, {_month_of(ROWS // 2), _month_of(ROWS)}),
    "agent+since": ({_month_of(ROWS)}, {_month_of(0)}),
    "since more": ({_month_of(ROWS)}, {_month_of(0), _month_of(ROWS // 2)}),
}


async def test_since_until_prune_the_months_outside_their_range(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    await _load(db)
    assert len({_month_of(n) for n in range(0, ROWS, 1000)}) == 4
    problems: list[str] = []
    for name, (wanted, unwanted) in PRUNED.items():
        plans = await _plans(db, SHAPES[name])
        read = {
            str(n.get("Relation Name"))
            for _, nodes in plans
            for n in nodes
            if _statements_relation(n.get("Relation Name"))
        }
        # The page query itself (the last one sent) carries the time filters.
        page = {
            str(n.get("Relation Name"))
            for n in plans[-1][1]
            if _statements_relation(n.get("Relation Name"))
        }
        if not wanted <= read:
            problems.append(f"{name}: does not read {wanted - read}")
        if unwanted & page:
            problems.append(f"{name}: the page reads {unwanted & page} (not pruned)")
    assert not problems, "\n".join(problems)


#: Shapes whose page is driven by the key table (one filter or more).
FILTERED = ("agent", "verb", "activity", "registration", "related_activities", "agent more")


async def test_filtered_pages_walk_the_key_index_only(db: Database) -> None:
    """Once ``lrs_statement_keys`` is vacuumed, the driving walk of a filtered page
    reads the primary key's index alone (its ``INCLUDE`` columns give ``related`` and
    the statement's partition): no key-table heap page per candidate. The statements
    are still probed by primary key, one partition each, never scanned."""
    if db.dialect != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    await _load(db)
    async with db.write_engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM lrs_statement_keys"))
    problems: list[str] = []
    for name in FILTERED:
        plans = await _plans(db, SHAPES[name], analyze=True)
        nodes = plans[-1][1]
        walks = [n for n in nodes if n.get("Relation Name") == "lrs_statement_keys"]
        if not walks:
            problems.append(f"{name}: the key table is not read")
        for walk in walks:
            if walk["Node Type"] != "Index Only Scan" or walk.get("Heap Fetches") != 0:
                problems.append(
                    f"{name}: {walk['Node Type']} of the keys on {walk.get('Index Name')}, "
                    f"{walk.get('Heap Fetches')} heap fetches"
                )
        for node in nodes:
            read = _statements_relation(node.get("Relation Name")) and node.get("Actual Loops")
            if read and node["Node Type"] == "Seq Scan":
                problems.append(f"{name}: sequential scan of {node['Relation Name']}")
        rows = nodes[0].get("Actual Rows")
        if not rows:
            problems.append(f"{name}: the page is empty")
    assert not problems, "\n".join(problems)
