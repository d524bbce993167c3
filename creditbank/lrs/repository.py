"""Every SQL statement of the statement store.

The ingest path is Core only: one multi-row INSERT for the statements of a
batch and one for their keys, no ORM objects, no UPDATE of shared rows (the one
UPDATE flags voided targets).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import (
    Column,
    Row,
    Table,
    and_,
    bindparam,
    event,
    exists,
    func,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select, TextClause
from sqlalchemy.sql.selectable import TextualSelect

from creditbank.db import sqlite_write_gate
from creditbank.lrs.keys import agent_key, key_hash
from creditbank.lrs.models import AttachmentContent, KeyKind, Statement, StatementKey
from creditbank.lrs.query import StatementQuery

#: Key of the PostgreSQL advisory lock that orders statement appends by commit.
APPEND_LOCK_KEY = 0x4C5253  # "LRS"
# Core tables: executemany without the ORM's per-row bookkeeping.
STATEMENTS: Table = Statement.__table__  # type: ignore[assignment]
KEYS: Table = StatementKey.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class StoredRow:
    """What duplicate and voiding checks need of a stored statement."""

    seq: int
    id: uuid.UUID
    body: dict[str, Any]
    voided: bool
    is_voiding: bool
    object_statement_id: uuid.UUID | None
    #: The institution whose credential stored it (None: stored without one).
    institution_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Page:
    rows: list[tuple[int, dict[str, Any], datetime]]
    more: bool


_PG_STATEMENT_COLUMNS = (
    ("seq", "bigint"),
    ("id", "uuid"),
    ("actor_key", "text"),
    ("verb_id", "text"),
    ("object_type", "varchar"),
    ("object_activity_id", "text"),
    ("object_statement_id", "uuid"),
    ("registration", "uuid"),
    ("stored", "timestamptz"),
    ("timestamp", "timestamptz"),
    ("institution_id", "uuid"),
    ("credential_id", "uuid"),
    ("voided", "boolean"),
    ("is_voiding", "boolean"),
    ("version", "varchar"),
    ("has_attachments", "boolean"),
    ("body", "text"),
)
# Built from the constant column list above, never from input.
_PG_INSERT_STATEMENTS = text(
    "INSERT INTO lrs_statements ("  # noqa: S608
    + ", ".join(f'"{name}"' for name, _ in _PG_STATEMENT_COLUMNS)
    + ") SELECT "
    + ", ".join(
        'u."body"::jsonb' if name == "body" else f'u."{name}"' for name, _ in _PG_STATEMENT_COLUMNS
    )
    + " FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _PG_STATEMENT_COLUMNS)
    + ") AS u("
    + ", ".join(f'"{name}"' for name, _ in _PG_STATEMENT_COLUMNS)
    + ")"
)
_PG_INSERT_KEYS = text(
    "INSERT INTO lrs_statement_keys (key_hash, statement_seq, related, statement_stored) "
    "SELECT * FROM unnest(CAST(:key_hash AS bigint[]), CAST(:statement_seq AS bigint[]), "
    "CAST(:related AS boolean[]), CAST(:statement_stored AS timestamptz[]))"
)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


_SQLITE_INSERT_STATEMENTS = (
    "INSERT INTO lrs_statements ("  # noqa: S608 - the constant column list above
    + ", ".join(f'"{name}"' for name, _ in _PG_STATEMENT_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" for _ in _PG_STATEMENT_COLUMNS)
    + ")"
)


def sqlite_datetime(value: datetime) -> str:
    """``value`` as ``UTCDateTime`` stores it on SQLite: UTC, fixed-width text (the
    SQLAlchemy SQLite ``DATETIME`` storage format), so lexical order is time order."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given where UTC is required")
    v = value.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - the fast form
        v.year,
        v.month,
        v.day,
        v.hour,
        v.minute,
        v.second,
        v.microsecond,
    )


def _sqlite_statement_params(rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The statement rows as the SQLite columns hold them (what SQLAlchemy's bind
    processing would make of them: ``Uuid`` as 32 hex digits, ``UTCDateTime`` as
    text, booleans as 0/1, the body as JSON text), without its per-value machinery
    (a test compares both byte for byte)."""
    stored = rows[0]["stored"]
    stored_text = sqlite_datetime(stored)
    out = []
    for row in rows:
        target = row["object_statement_id"]
        registration = row["registration"]
        institution = row["institution_id"]
        credential = row["credential_id"]
        out.append(
            (
                row["seq"],
                row["id"].hex,
                row["actor_key"],
                row["verb_id"],
                row["object_type"],
                row["object_activity_id"],
                target.hex if target is not None else None,
                registration.hex if registration is not None else None,
                stored_text if row["stored"] is stored else sqlite_datetime(row["stored"]),
                sqlite_datetime(row["timestamp"]),
                institution.hex if institution is not None else None,
                credential.hex if credential is not None else None,
                1 if row["voided"] else 0,
                1 if row["is_voiding"] else 0,
                row["version"],
                1 if row["has_attachments"] else 0,
                orjson.dumps(row["body"]).decode(),
            )
        )
    return out


#: The index SQLite keeps for ``UNIQUE (id)`` of ``lrs_statements`` (SQLite names a
#: constraint's index itself; tests/lrs/test_statements_append_plans.py holds the
#: migrated schema to this name).
SQLITE_ID_INDEX = "sqlite_autoindex_lrs_statements_1"
#: What duplicate and voiding checks read of a stored statement (:class:`StoredRow`).
_STORED_ROW_COLUMNS: tuple[Column[Any], ...] = (
    STATEMENTS.c.seq,
    STATEMENTS.c.id,
    STATEMENTS.c.body,
    STATEMENTS.c.voided,
    STATEMENTS.c.is_voiding,
    STATEMENTS.c.object_statement_id,
    STATEMENTS.c.institution_id,
)


def _sqlite_ids(clause: TextClause) -> TextClause:
    return clause.bindparams(bindparam("ids", expanding=True, type_=STATEMENTS.c.id.type))


def _sqlite_by_ids(columns: Sequence[Column[Any]]) -> TextualSelect:
    """``columns`` of the statements whose id is in ``:ids``, on SQLite, looked up in
    the id index whatever the planner's statistics say.

    SQLite plans from ``sqlite_stat1`` as it was at the last ANALYZE and never scales
    it by the table's size (PostgreSQL does): analyzed while a handful of statements
    were stored (a new installation, a demo), ``id IN (100 ids)`` is planned as one
    scan of the whole table, and every batch of an ingest reads every statement
    stored before it (issue 14: ingest fell from 3,300 to 1,900 statements/s over
    the second 20,000 statements). ``INDEXED BY`` leaves the planner no other plan
    (a missing index is an error, not a scan).
    """
    names = ", ".join(f'"{column.name}"' for column in columns)
    return _sqlite_ids(
        text(
            f"SELECT {names} FROM lrs_statements INDEXED BY {SQLITE_ID_INDEX} "  # noqa: S608 - constant names
            "WHERE id IN :ids"
        )
    ).columns(*columns)


#: What :meth:`StatementRepository.for_processing` reads of a statement.
_PROCESSING_COLUMNS: tuple[Column[Any], ...] = tuple(
    STATEMENTS.c[name]
    for name in ("id", "body", "institution_id", "voided", "is_voiding", "stored", "timestamp")
)
_SQLITE_FOR_PROCESSING = _sqlite_by_ids(_PROCESSING_COLUMNS)

_SQLITE_MARK_VOIDED = _sqlite_ids(
    text(
        f"UPDATE lrs_statements INDEXED BY {SQLITE_ID_INDEX} SET voided = 1 "  # noqa: S608 - constant names
        "WHERE id IN :ids AND is_voiding = 0"
    )
)


def _key_joins_statement(session: AsyncSession) -> Any:
    """A key row's statement: by ``seq``, and on PostgreSQL by ``stored`` as well (the
    partition key: the probe opens one month)."""
    on = StatementKey.statement_seq == Statement.seq
    if session.get_bind().dialect.name == "postgresql":
        return and_(on, StatementKey.statement_stored == Statement.stored)
    return on


class StatementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> StatementRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def highest_seq(self) -> int:
        """The last statement's ``seq`` (one index probe): how many were ever stored."""
        result = await self.session.execute(select(func.max(Statement.seq)))
        return int(result.scalar() or 0)

    # -- writes -------------------------------------------------------------------------

    async def begin_append(self) -> None:
        """Start the append's transaction, before its first query.

        SQLite: queue on this process's write gate, then BEGIN IMMEDIATE; the gate is
        let go when the transaction ends. Writers queue in order there instead of
        polling SQLite's busy handler (which sleeps up to 100 ms a try and lets a late
        writer overtake: the long tail of the ingest latency), and ``writers_idle``
        sees the append. Any query on the session before this one would begin the
        transaction outside the gate. PostgreSQL: nothing (the append lock is taken
        later, by :meth:`lock_for_append`, so the checks before it run concurrently).
        """
        if self.dialect == "postgresql":
            return
        sync_session = self.session.sync_session
        if sync_session.in_transaction():
            # Begun by the caller (a worker's gated scope, a test): already the writer.
            return
        gate = sqlite_write_gate()
        await gate.acquire()
        released = False

        def release(*_: Any) -> None:
            nonlocal released
            if not released:
                released = True
                gate.release()

        try:
            event.listen(sync_session, "after_transaction_end", release, once=True)
            await self.session.connection()  # BEGIN IMMEDIATE
        except BaseException:
            release()
            raise

    async def lock_for_append(self) -> None:
        """Serialise appends until commit, so ``seq`` and ``stored`` follow commit order.

        PostgreSQL: a transaction-scoped advisory lock. SQLite: write transactions
        start with BEGIN IMMEDIATE (one writer at a time) behind the write gate,
        see :meth:`begin_append`.
        """
        if self.dialect == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY}
            )
            return
        await self.begin_append()

    async def last_seq(self) -> int:
        result = await self.session.execute(select(func.max(Statement.seq)))
        value = result.scalar_one_or_none()
        return int(value or 0)

    async def rows_by_id(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, StoredRow]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        if self.dialect == "sqlite":
            result = await self.session.execute(
                _sqlite_by_ids(_STORED_ROW_COLUMNS), {"ids": wanted}
            )
        else:
            result = await self.session.execute(
                select(*_STORED_ROW_COLUMNS).where(STATEMENTS.c.id.in_(wanted))
            )
        return {
            row.id: StoredRow(
                seq=row.seq,
                id=row.id,
                body=row.body,
                voided=row.voided,
                is_voiding=row.is_voiding,
                object_statement_id=row.object_statement_id,
                institution_id=row.institution_id,
            )
            for row in result
        }

    async def for_processing(self, ids: Iterable[uuid.UUID]) -> list[Row[Any]]:
        """What the rules worker reads of stored statements by id (its batch read), in
        one query: the :data:`_PROCESSING_COLUMNS`, as rows (no ORM objects to build,
        track and discard: a batch reads them and moves on)."""
        wanted = list(set(ids))
        if not wanted:
            return []
        if self.dialect == "sqlite":
            result = await self.session.execute(_SQLITE_FOR_PROCESSING, {"ids": wanted})
        else:
            result = await self.session.execute(
                select(*_PROCESSING_COLUMNS).where(STATEMENTS.c.id.in_(wanted))
            )
        return list(result)

    async def insert_statements(self, rows: Sequence[dict[str, Any]]) -> None:
        """One INSERT for the batch: ``unnest`` of column arrays on PostgreSQL (one
        statement, one round trip), an executemany in one call on SQLite."""
        if not rows:
            return
        if self.dialect == "postgresql":
            params: dict[str, Any] = {
                name: [row[name] for row in rows] for name, _ in _PG_STATEMENT_COLUMNS
            }
            params["body"] = [_json_text(row["body"]) for row in rows]
            await self.session.execute(_PG_INSERT_STATEMENTS, params)
        else:
            connection = await self.session.connection()
            await connection.exec_driver_sql(
                _SQLITE_INSERT_STATEMENTS, _sqlite_statement_params(rows)
            )

    async def insert_keys(self, rows: Sequence[tuple[int, int, bool]], stored: datetime) -> None:
        """``(key_hash, statement_seq, related)`` rows in one INSERT; ``stored`` is the
        stored time of their statements (one batch, one instant). PostgreSQL keeps it
        with each key (the partition key of its statement); SQLite does not need it."""
        if not rows:
            return
        connection = await self.session.connection()
        if self.dialect == "postgresql":
            await self.session.execute(
                _PG_INSERT_KEYS,
                {
                    "key_hash": [row[0] for row in rows],
                    "statement_seq": [row[1] for row in rows],
                    "related": [row[2] for row in rows],
                    "statement_stored": [stored] * len(rows),
                },
            )
        else:
            # Plain integers: no type processing needed, so skip it.
            await connection.exec_driver_sql(
                "INSERT INTO lrs_statement_keys (key_hash, statement_seq, related) "
                "VALUES (?, ?, ?)",
                list(rows),
            )

    async def mark_voided(self, ids: Iterable[uuid.UUID]) -> None:
        wanted = list(set(ids))
        if wanted and self.dialect == "sqlite":
            await self.session.execute(_SQLITE_MARK_VOIDED, {"ids": wanted})
        elif wanted:
            await self.session.execute(
                update(Statement)
                .where(Statement.id.in_(wanted), Statement.is_voiding.is_(False))
                .values(voided=True)
            )

    # -- reads --------------------------------------------------------------------------

    async def of_agents(self, agents: Sequence[str]) -> list[Statement]:
        """Every statement (voided too) whose actor or Agent object is one of ``agents``."""
        if not agents:
            return []
        hashes = [key_hash(KeyKind.AGENT, agent) for agent in agents]
        if self.dialect == "postgresql":
            # (seq, stored): each key's statement is looked up in its own partition.
            pairs = select(StatementKey.statement_seq, StatementKey.statement_stored).where(
                StatementKey.key_hash.in_(hashes), StatementKey.related.is_(False)
            )
            where = tuple_(Statement.seq, Statement.stored).in_(pairs)
        else:
            matching = select(StatementKey.statement_seq).where(
                StatementKey.key_hash.in_(hashes), StatementKey.related.is_(False)
            )
            where = Statement.seq.in_(matching)
        result = await self.session.execute(select(Statement).where(where).order_by(Statement.seq))
        return list(result.scalars())

    async def get_body(
        self, statement_id: uuid.UUID, *, voided: bool, institution_id: uuid.UUID | None
    ) -> tuple[dict[str, Any], datetime] | None:
        query = select(Statement.body, Statement.stored).where(
            Statement.id == statement_id, Statement.voided.is_(voided)
        )
        if institution_id is not None:
            query = query.where(Statement.institution_id == institution_id)
        row = (await self.session.execute(query)).first()
        return (row.body, row.stored) if row is not None else None

    async def writers_idle(self) -> bool:
        """Whether no statement append is in flight right now (nobody holds the append lock).

        When idle, every statement stamped up to this instant has committed, so a read
        that starts now is consistent through now. PostgreSQL: try the append lock in
        shared mode and let go at once; SQLite: this process's append gate.
        """
        if self.dialect == "postgresql":
            # One round trip: take the lock shared if free and give it back at once.
            result = await self.session.execute(
                text(
                    "SELECT CASE WHEN pg_try_advisory_lock_shared(:key) "
                    "THEN pg_advisory_unlock_shared(:key) ELSE false END"
                ),
                {"key": APPEND_LOCK_KEY},
            )
            return bool(result.scalar_one())
        return not sqlite_write_gate().locked()

    async def consistent_through(self) -> datetime | None:
        return (await self.head())[1]

    async def head(self) -> tuple[int, datetime | None]:
        """``(seq, stored)`` of the last committed statement; ``(0, None)`` when empty.

        Appends commit in ``seq`` order, so everything stored up to that instant is
        visible: it is both the paging bound and ``X-Experience-API-Consistent-Through``.
        """
        result = await self.session.execute(
            select(Statement.seq, Statement.stored).order_by(Statement.seq.desc()).limit(1)
        )
        row = result.first()
        return (0, None) if row is None else (int(row.seq), row.stored)

    async def seq_range(
        self, since: datetime | None, until: datetime | None
    ) -> tuple[int, int] | None:
        """``(after, upto)``: statements stored in ``(since, until]`` have ``after < seq
        <= upto``; None when none can match. ``stored`` never decreases along ``seq``,
        so each bound is one ``ORDER BY stored, seq LIMIT 1`` on the (stored, seq)
        index, a plan no statistics can spoil."""
        after, upto = 0, 2**62
        if since is not None:
            first = await self.session.execute(
                select(Statement.seq)
                .where(Statement.stored > since)
                .order_by(Statement.stored, Statement.seq)
                .limit(1)
            )
            value = first.scalar_one_or_none()
            if value is None:
                return None
            after = int(value) - 1
        if until is not None:
            last = await self.session.execute(
                select(Statement.seq)
                .where(Statement.stored <= until)
                .order_by(Statement.stored.desc(), Statement.seq.desc())
                .limit(1)
            )
            value = last.scalar_one_or_none()
            if value is None:
                return None
            upto = int(value)
        return after, upto

    async def query(
        self, query: StatementQuery, *, institution_id: uuid.UUID | None, bound: int
    ) -> Page:
        """A page of statements matching ``query``, newest first unless ascending."""
        seq_range: tuple[int, int] | None = None
        if query.since is not None or query.until is not None:
            seq_range = await self.seq_range(query.since, query.until)
            if seq_range is None:
                return Page(rows=[], more=False)
        stmt = self.page_query(
            query, institution_id=institution_id, bound=bound, seq_range=seq_range
        )
        rows = [(row[0], row[1], row[2]) for row in await self.session.execute(stmt)]
        more = len(rows) > query.limit
        return Page(rows=rows[: query.limit], more=more)

    def page_query(
        self,
        query: StatementQuery,
        *,
        institution_id: uuid.UUID | None,
        bound: int,
        seq_range: tuple[int, int] | None = None,
    ) -> Select[Any]:
        """The SELECT of one page (built here so tests can EXPLAIN each shape)."""
        filters: list[tuple[int, bool]] = []
        if query.agent is not None:
            filters.append((key_hash(KeyKind.AGENT, query.agent), query.related_agents))
        if query.activity is not None:
            filters.append((key_hash(KeyKind.ACTIVITY, query.activity), query.related_activities))
        if query.verb is not None:
            filters.append((key_hash(KeyKind.VERB, query.verb), False))
        if query.registration is not None:
            filters.append((key_hash(KeyKind.REGISTRATION, query.registration), False))

        # Conditions on the statement row itself.
        on_row: list[Any] = [Statement.voided.is_(False)]
        if institution_id is not None:
            on_row.append(Statement.institution_id == institution_id)
        if query.since is not None:
            on_row.append(Statement.stored > query.since)
        if query.until is not None:
            on_row.append(Statement.stored <= query.until)

        seq_column: Any = Statement.seq
        stmt: Select[Any]
        if filters:
            # Drive the query from the key table's (key_hash, seq) primary key, newest
            # first, and probe each candidate's row by seq: a LATERAL subquery with
            # LIMIT 1 cannot be flattened, so the planner can only run it as one
            # primary-key probe per key row, never as a hash join over a sequential
            # scan of the statements (which it picks when its statistics are stale).
            first_hash, related = filters[0]
            driver = KEYS.alias("k0")
            seq_column = driver.c.statement_seq
            if self.dialect == "postgresql":
                # ``stored`` too: the partition key, so each probe opens one month.
                row = (
                    select(Statement.seq, Statement.body, Statement.stored)
                    .where(
                        Statement.seq == driver.c.statement_seq,
                        Statement.stored == driver.c.statement_stored,
                        *on_row,
                    )
                    .limit(1)
                    .lateral("s")
                )
                stmt = cast(
                    "Select[Any]",
                    select(row.c.seq, row.c.body, row.c.stored)
                    .select_from(driver)
                    .join(row, true()),
                )
            else:  # SQLite has no LATERAL; its planner follows the driver anyway
                stmt = (
                    select(Statement.seq, Statement.body, Statement.stored)
                    .select_from(driver)
                    .join(STATEMENTS, Statement.seq == driver.c.statement_seq)
                    .where(*on_row)
                )
            stmt = stmt.where(driver.c.key_hash == first_hash)
            if not related:
                stmt = stmt.where(driver.c.related.is_(False))
            for index, (other_hash, related) in enumerate(filters[1:], start=1):
                other = KEYS.alias(f"k{index}")
                condition = and_(
                    other.c.key_hash == other_hash,
                    other.c.statement_seq == driver.c.statement_seq,
                    true() if related else other.c.related.is_(False),
                )
                stmt = stmt.where(exists().where(condition))
        else:
            stmt = select(Statement.seq, Statement.body, Statement.stored).where(*on_row)

        stmt = stmt.where(seq_column <= bound)
        if seq_range is not None:
            # since/until as a seq range (see :meth:`seq_range`); the time filters
            # stay, so the answer is exact whatever the range.
            stmt = stmt.where(seq_column > seq_range[0], seq_column <= seq_range[1])
        if query.cursor is not None:
            position = query.cursor.position
            stmt = stmt.where(seq_column > position if query.ascending else seq_column < position)
        stmt = stmt.order_by(seq_column.asc() if query.ascending else seq_column.desc())
        return stmt.limit(query.limit + 1)

    async def get(self, statement_id: uuid.UUID) -> Statement | None:
        """One stored statement row by id (voided or not)."""
        result = await self.session.execute(select(Statement).where(Statement.id == statement_id))
        return result.scalar_one_or_none()


class AttachmentRepository:
    """Attachment content, one row per SHA-2 digest."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AttachmentRepository:
        return cls(session)

    async def store(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``{sha2, content_type, length, content, created}`` rows; digests already
        stored are left alone (same digest, same bytes)."""
        if not rows:
            return
        table: Table = AttachmentContent.__table__  # type: ignore[assignment]
        if self.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            await self.session.execute(
                pg_insert(table).on_conflict_do_nothing(index_elements=["sha2"]), list(rows)
            )
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            await self.session.execute(
                sqlite_insert(table).on_conflict_do_nothing(index_elements=["sha2"]), list(rows)
            )

    async def known(self, digests: Iterable[str]) -> set[str]:
        wanted = list(set(digests))
        if not wanted:
            return set()
        result = await self.session.execute(
            select(AttachmentContent.sha2).where(AttachmentContent.sha2.in_(wanted))
        )
        return set(result.scalars())

    async def contents(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = list(set(digests))
        if not wanted:
            return {}
        result = await self.session.execute(
            select(AttachmentContent.sha2, AttachmentContent.content).where(
                AttachmentContent.sha2.in_(wanted)
            )
        )
        return {row.sha2: bytes(row.content) for row in result}


class ActivityRepository:
    """Reads of the statement store for the Activities resource (same context: lrs)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ActivityRepository:
        return cls(session)

    async def bodies_with_activity(
        self, activity_id: str, *, institution_id: uuid.UUID | None, limit: int
    ) -> list[dict[str, Any]]:
        """Bodies of the newest ``limit`` statements that mention ``activity_id``, oldest first."""
        query = (
            select(Statement.body)
            .join(StatementKey, _key_joins_statement(self.session))
            .where(StatementKey.key_hash == key_hash(KeyKind.ACTIVITY, activity_id))
            .order_by(Statement.seq.desc())
            .limit(limit)
        )
        if institution_id is not None:
            query = query.where(Statement.institution_id == institution_id)
        rows = (await self.session.execute(query)).scalars().all()
        return list(reversed(rows))


class AgentRepository:
    """Reads of the statement store for the Agents resource (same context: lrs)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AgentRepository:
        return cls(session)

    async def actors_of(
        self, agent: dict[str, Any], *, institution_id: uuid.UUID | None, limit: int
    ) -> list[Any]:
        """The ``actor`` of the newest statements this agent is the actor (or object) of."""
        key = agent_key(agent)
        if key is None:
            return []
        query = (
            select(Statement.body)
            .join(StatementKey, _key_joins_statement(self.session))
            .where(
                StatementKey.key_hash == key_hash(KeyKind.AGENT, key),
                StatementKey.related.is_(False),
            )
            .order_by(Statement.seq.desc())
            .limit(limit)
        )
        if institution_id is not None:
            query = query.where(Statement.institution_id == institution_id)
        bodies = (await self.session.execute(query)).scalars().all()
        return [body.get("actor") for body in bodies if isinstance(body, dict)]
