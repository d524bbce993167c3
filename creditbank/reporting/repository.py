"""Every query of the reporting context: aggregates with ``GROUP BY``.

The queries read other contexts' tables by name; each is bounded by a time window on
an indexed or narrow column. The only tables reporting writes are its own rollups
(``reporting/models.py``), from the ``reporting.rollup`` job: :meth:`ReportingRepository.fold`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    Table,
    and_,
    case,
    column,
    delete,
    distinct,
    exists,
    func,
    insert,
    literal,
    select,
    table,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import TableClause

from creditbank.kit.types import UTCDateTime
from creditbank.reporting.models import (
    DASHBOARD,
    ActiveMonth,
    LearnerMonth,
    OutcomeMonth,
    Rollup,
    StatementDay,
)

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
_rollups = cast(Table, Rollup.__table__)
_outcome_months = cast(Table, OutcomeMonth.__table__)
_statement_days = cast(Table, StatementDay.__table__)
_learner_months = cast(Table, LearnerMonth.__table__)
_active_months = cast(Table, ActiveMonth.__table__)
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
    def postgres(self) -> bool:
        return self._postgres

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

    async def learners_active(
        self, since: datetime, *, counted_before: datetime | None = None
    ) -> list[Count]:
        """Distinct learners with a ledger entry, per month.

        ``counted_before``: the rollup's watermark; learners whose month the rollup
        already counts (a ``reporting_learner_months`` row folded in before it) are
        left out, so the rollup's count and this one add up.
        """
        e = _ledger.c
        month = self._period(e.posted_at)
        where = e.posted_at >= since
        if counted_before is not None:
            x = _learner_months.c
            where = and_(
                where,
                ~exists().where(
                    x.month == month, x.learner_id == e.learner_id, x.first_at < counted_before
                ),
            )
        query = (
            select(month, func.count(distinct(e.learner_id)))
            .where(where)
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

    # -- rollups: read with their watermark in one statement (one snapshot) -------------

    async def recognised_rollup(
        self, since_month: str
    ) -> tuple[bool, datetime | None, list[Periodic]]:
        """The rolled-up months from ``since_month`` by type and region, and the watermark.

        The state row is read in the same statement as the rows, so the watermark is
        the one they were folded up to. ``(False, None, [])``: no state row.
        """
        r, m, i = _rollups.c, _outcome_months.c, _institutions.c
        months = _outcome_months.join(_institutions, i.key == m.institution_key)
        query = (
            select(
                r.through, m.month, i.type, i.region_code, func.sum(m.credits), func.sum(m.outcomes)
            )
            .select_from(_rollups.outerjoin(months, m.month >= since_month))
            .where(r.name == DASHBOARD)
            .group_by(r.through, m.month, i.type, i.region_code)
        )
        rows = (await self.session.execute(query)).all()
        if not rows:
            return False, None, []
        through = rows[0][0]
        return True, through, [_periodic(tuple(row)[1:]) for row in rows if row[1] is not None]

    async def counts_rollup(
        self, what: str, since: str
    ) -> tuple[bool, datetime | None, list[Count]]:
        """``learners`` per month (from ``since``, a ``YYYY-MM``) or ``statements`` per day
        (from a ``YYYY-MM-DD``), rolled up, with the watermark (one statement)."""
        r = _rollups.c
        if what == "learners":
            period, value = _active_months.c.month, _active_months.c.learners
            source = _active_months
        else:
            period, value = _statement_days.c.day, _statement_days.c.statements
            source = _statement_days
        query = (
            select(r.through, period, value)
            .select_from(_rollups.outerjoin(source, period >= since))
            .where(r.name == DASHBOARD)
        )
        rows = (await self.session.execute(query)).all()
        if not rows:
            return False, None, []
        through = rows[0][0]
        return (
            True,
            through,
            [Count(period=str(row[1]), count=int(row[2])) for row in rows if row[1] is not None],
        )

    async def learner_months(self, learner_id: uuid.UUID) -> list[str]:
        lm = _learner_months.c
        query = select(lm.month).where(lm.learner_id == learner_id).order_by(lm.month)
        return [str(m) for m in (await self.session.execute(query)).scalars()]

    # -- rollups: the job's writes ----------------------------------------------------

    async def lock_rollup(self) -> tuple[bool, datetime | None]:
        """The dashboard rollup's state row, locked until the job's commit (one folder at
        a time); ``(False, None)`` if there is none."""
        r = _rollups.c
        query = select(r.through).where(r.name == DASHBOARD)
        if self._postgres:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return (False, None) if row is None else (True, row[0])

    async def fold(
        self,
        *,
        from_day: datetime | None,
        from_month: datetime | None,
        through: datetime,
        now: datetime,
        create: bool = False,
    ) -> None:
        """Recompute the rollups from ``from_month`` (outcomes, learners' counts) and
        ``from_day`` (statements, learners' months) up to ``through`` (excluded), from
        the source rows; None: the whole history. Then move the watermark."""
        o, st, e = _outcomes.c, _statements.c, _ledger.c
        om, sd, lm, am = _outcome_months.c, _statement_days.c, _learner_months.c, _active_months.c
        month_key = None if from_month is None else from_month.strftime("%Y-%m")
        day_key = None if from_day is None else from_day.strftime("%Y-%m-%d")

        def since(col: ColumnElement[Any], start: datetime | None) -> ColumnElement[bool]:
            return col < through if start is None else and_(col >= start, col < through)

        # Credits recognised per month and institution.
        month = self._period(o.recognised_at)
        await self.session.execute(
            delete(_outcome_months).where(om.month >= month_key)
            if month_key
            else delete(_outcome_months)
        )
        await self.session.execute(
            insert(_outcome_months).from_select(
                ["month", "institution_key", "credits", "outcomes"],
                select(
                    month, o.institution_key, func.coalesce(func.sum(o.credits), 0), func.count()
                )
                .where(since(o.recognised_at, from_month))
                .group_by(month, o.institution_key),
            )
        )
        # Statements stored per day.
        day = self._period(st.stored, day=True)
        await self.session.execute(
            delete(_statement_days).where(sd.day >= day_key) if day_key else delete(_statement_days)
        )
        await self.session.execute(
            insert(_statement_days).from_select(
                ["day", "statements"],
                select(day, func.count()).where(since(st.stored, from_day)).group_by(day),
            )
        )
        # A row per learner and month with a ledger entry (entries are never removed:
        # the rows already there stay, the new ones are added).
        month = self._period(e.posted_at)
        await self.session.execute(
            insert(_learner_months).from_select(
                ["month", "learner_id", "first_at"],
                select(month, e.learner_id, func.min(e.posted_at))
                .where(
                    since(e.posted_at, from_day),
                    ~exists().where(lm.month == month, lm.learner_id == e.learner_id),
                )
                .group_by(month, e.learner_id),
            )
        )
        await self.session.execute(
            delete(_active_months).where(am.month >= month_key)
            if month_key
            else delete(_active_months)
        )
        counted = select(lm.month, func.count()).group_by(lm.month)
        if month_key:
            counted = counted.where(lm.month >= month_key)
        await self.session.execute(
            insert(_active_months).from_select(["month", "learners"], counted)
        )
        r = _rollups.c
        if create:
            await self.session.execute(
                insert(_rollups).values(name=DASHBOARD, through=through, built_at=now)
            )
        else:
            await self.session.execute(
                update(_rollups).where(r.name == DASHBOARD).values(through=through, built_at=now)
            )

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
