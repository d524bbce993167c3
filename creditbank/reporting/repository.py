"""Every query of the reporting context: aggregates with ``GROUP BY``, read-only.

The queries read other contexts' tables by name (reporting owns no table and writes
nothing); each is bounded by a time window on an indexed or narrow column.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    case,
    column,
    distinct,
    func,
    literal,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import TableClause

from creditbank.kit.types import UTCDateTime

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Periodic:
    """One group: a period (``YYYY-MM`` or ``YYYY-MM-DD``), a type and a region."""

    period: str
    institution_type: str
    region_code: str | None
    credits: Decimal
    count: int


@dataclass(frozen=True)
class Decisions:
    month: str
    submitted: int
    decided: int
    approved: int
    turnaround_seconds: float | None


@dataclass(frozen=True)
class Count:
    period: str
    count: int


_outcomes = table(
    "rule_outcomes",
    column("recognised_at", UTCDateTime()),
    column("credits", BigInteger()),
    column("institution_key", String()),
)
_institutions = table(
    "institutions", column("key", String()), column("type", String()), column("region_code")
)
_applications = table(
    "conversion_applications",
    column("created_at", UTCDateTime()),
    column("decided_at", UTCDateTime()),
    column("status", String()),
    column("credits", BigInteger()),
    column("target_institution_key", String()),
)
_ledger = table("ledger_entries", column("posted_at", UTCDateTime()), column("learner_id"))
_statements = table(
    "lrs_statements", column("stored", UTCDateTime()), column("seq"), column("institution_id")
)
_evaluations = table(
    "rule_evaluations",
    column("statement_id"),
    column("institution_key", String()),
    column("kind", String()),
    column("recognised"),
    column("reason_zh", String()),
    column("reason_en", String()),
    column("evaluated_at", UTCDateTime()),
)


@dataclass(frozen=True)
class NotRecognised:
    statement_id: str
    kind: str
    reason_zh: str
    reason_en: str
    evaluated_at: datetime


class ReportingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ReportingRepository:
        return cls(session)

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _period(self, col: ColumnElement[Any], *, day: bool = False) -> ColumnElement[str]:
        """``YYYY-MM`` (or ``YYYY-MM-DD``) of a UTC timestamp, in the database."""
        if self._postgres:
            fmt = "YYYY-MM-DD" if day else "YYYY-MM"
            return func.to_char(func.timezone("UTC", col), fmt)
        # SQLite keeps UTC as fixed-width text: the prefix is the period.
        return func.substr(col, 1, 10 if day else 7)

    def _seconds(self, start: ColumnElement[Any], end: ColumnElement[Any]) -> ColumnElement[Any]:
        if self._postgres:
            return func.extract("epoch", end - start)
        return (func.julianday(end) - func.julianday(start)) * literal(86400.0)

    async def _by_type_and_region(
        self,
        source: TableClause,
        when: ColumnElement[Any],
        credits: ColumnElement[Any],
        key: ColumnElement[Any],
        where: ColumnElement[bool],
    ) -> list[Periodic]:
        i = _institutions.c
        month = self._period(when)
        query = (
            select(month, i.type, i.region_code, func.sum(credits), func.count())
            .select_from(source.join(_institutions, i.key == key))
            .where(where)
            .group_by(month, i.type, i.region_code)
            .order_by(month, i.type, i.region_code)
        )
        return [_periodic(tuple(r)) for r in (await self.session.execute(query)).all()]

    async def recognised(self, since: datetime) -> list[Periodic]:
        """Credits of outcomes recognised since ``since``, by month, institution type, region."""
        o = _outcomes.c
        return await self._by_type_and_region(
            _outcomes, o.recognised_at, o.credits, o.institution_key, o.recognised_at >= since
        )

    async def converted(self, since: datetime) -> list[Periodic]:
        """Credits of approved conversions decided since ``since``, by the target's type."""
        a = _applications.c
        return await self._by_type_and_region(
            _applications,
            a.decided_at,
            a.credits,
            a.target_institution_key,
            and_(a.status == "approved", a.decided_at >= since),
        )

    async def decisions(self, since: datetime) -> list[Decisions]:
        """Applications submitted per month: how many decided, approved, and how fast."""
        a = _applications.c
        month = self._period(a.created_at)
        query = (
            select(
                month,
                func.count(),
                func.count(a.decided_at),
                func.sum(case((a.status == "approved", 1), else_=0)),
                func.avg(
                    case(
                        (a.decided_at.is_not(None), self._seconds(a.created_at, a.decided_at)),
                        else_=None,
                    )
                ),
            )
            .where(a.created_at >= since)
            .group_by(month)
            .order_by(month)
        )
        rows = (await self.session.execute(query)).all()
        return [
            Decisions(
                month=str(r[0]),
                submitted=int(r[1]),
                decided=int(r[2]),
                approved=int(r[3] or 0),
                turnaround_seconds=None if r[4] is None else float(r[4]),
            )
            for r in rows
        ]

    async def learners_active(self, since: datetime) -> list[Count]:
        """Distinct learners with a ledger entry, per month."""
        e = _ledger.c
        month = self._period(e.posted_at)
        query = (
            select(month, func.count(distinct(e.learner_id)))
            .where(e.posted_at >= since)
            .group_by(month)
            .order_by(month)
        )
        rows = (await self.session.execute(query)).all()
        return [Count(period=str(r[0]), count=int(r[1])) for r in rows]

    async def statements_per_day(self, since: datetime) -> list[Count]:
        """Statements stored per day (a range on the ``(stored, seq)`` index)."""
        st = _statements.c
        day = self._period(st.stored, day=True)
        query = select(day, func.count()).where(st.stored >= since).group_by(day).order_by(day)
        rows = (await self.session.execute(query)).all()
        return [Count(period=str(r[0]), count=int(r[1])) for r in rows]

    async def institution_statements_per_day(
        self, institution_id: uuid.UUID, since: datetime
    ) -> list[Count]:
        st = _statements.c
        day = self._period(st.stored, day=True)
        query = (
            select(day, func.count())
            .where(st.institution_id == institution_id, st.stored >= since)
            .group_by(day)
            .order_by(day)
        )
        rows = (await self.session.execute(query)).all()
        return [Count(period=str(r[0]), count=int(r[1])) for r in rows]

    async def institution_evaluations(self, institution_key: str, since: datetime) -> list[Count]:
        """Evaluations of the institution's statements, by ``kind:recognised``."""
        ev = _evaluations.c
        query = (
            select(ev.kind, ev.recognised, func.count())
            .where(ev.institution_key == institution_key, ev.evaluated_at >= since)
            .group_by(ev.kind, ev.recognised)
        )
        rows = (await self.session.execute(query)).all()
        return [Count(period=f"{r[0]}:{bool(r[1])}", count=int(r[2])) for r in rows]

    async def institution_not_recognised(
        self, institution_key: str, since: datetime, limit: int = 50
    ) -> list[NotRecognised]:
        ev = _evaluations.c
        query = (
            select(ev.statement_id, ev.kind, ev.reason_zh, ev.reason_en, ev.evaluated_at)
            .where(
                ev.institution_key == institution_key,
                ev.evaluated_at >= since,
                ev.recognised.is_(False),
            )
            .order_by(ev.evaluated_at.desc())
            .limit(limit)
        )
        rows = (await self.session.execute(query)).all()
        return [NotRecognised(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4]) for r in rows]


def _periodic(row: tuple[object, ...]) -> Periodic:
    return Periodic(
        period=str(row[0]),
        institution_type=str(row[1]),
        region_code=None if row[2] is None else str(row[2]),
        credits=(Decimal(str(row[3] or 0)) / HUNDRED).quantize(Decimal("0.01")),
        count=int(str(row[4])),
    )
