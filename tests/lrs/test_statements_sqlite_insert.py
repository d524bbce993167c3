"""The SQLite ingest INSERT binds values itself: they must be what SQLAlchemy stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import insert, text

from creditbank.db import Database
from creditbank.lrs.repository import (
    STATEMENTS,
    StatementRepository,
    _sqlite_statement_params,
    sqlite_datetime,
)


def _row(seq: int, **changes):
    stored = datetime(2026, 12, 3, 13, 5, 7, 123000, tzinfo=UTC)
    row = {
        "seq": seq,
        "id": uuid.uuid4(),
        "actor_key": "account|https://fxvs.example.edu.cn|20230001",
        "verb_id": "http://adlnet.gov/expapi/verbs/passed",
        "object_type": "Activity",
        "object_activity_id": "https://fxvs.example.edu.cn/xapi/activities/course-1",
        "object_statement_id": None,
        "registration": uuid.uuid4(),
        "stored": stored,
        "timestamp": datetime(1, 1, 1, 0, 0, 0, 5, tzinfo=UTC),
        "institution_id": uuid.uuid4(),
        "credential_id": None,
        "voided": False,
        "is_voiding": True,
        "version": "1.0.0",
        "has_attachments": False,
        "body": {"名": "学员", "n": [1, 2.5, None, True], "id": "x"},
    }
    row.update(changes)
    return row


def test_datetimes_are_stored_as_utc_text():
    east = timezone(timedelta(hours=8))
    assert sqlite_datetime(datetime(2026, 1, 1, 8, 0, tzinfo=east)) == (
        "2026-01-01 00:00:00.000000"
    )


async def test_fast_rows_equal_core_rows(db: Database):
    if db.dialect != "sqlite":
        return
    fast = [_row(1), _row(2, object_statement_id=uuid.uuid4(), registration=None, voided=True)]
    core = [_row(3, **{k: v for k, v in fast[0].items() if k != "seq"})]
    core[0]["id"] = uuid.uuid4()
    async with db.session_scope() as session:
        await StatementRepository.from_session(session).insert_statements(fast)
        await session.execute(insert(STATEMENTS), core)
    async with db.read_scope() as session:
        raw = (await session.execute(text("SELECT * FROM lrs_statements ORDER BY seq"))).all()
    columns = list(STATEMENTS.columns.keys())
    first, _, third = (dict(zip(columns, row, strict=True)) for row in raw)
    for name in columns:
        if name not in ("seq", "id"):
            assert first[name] == third[name], name
            assert type(first[name]) is type(third[name]), name
    assert raw[1][columns.index("voided")] == 1
    assert len(_sqlite_statement_params(fast)) == 2
