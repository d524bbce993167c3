"""The rollup-backed dashboard answers what the live queries answer, exactly.

Rows are dated across days and months (the ledger's clock is set for each posting,
so every entry goes through the ledger service: real deposits and reversals), the
``reporting.rollup`` job folds them in, and the dashboard — rollups before the
watermark plus live rows from it on — is compared with the live queries over the
whole window: after new rows past the watermark (a learner the rollup already
counts this month, a new one, a reversal), after a late posting (dated before the
watermark, committed after the job: counted by the next run), and across a day and
month boundary that falls exactly on the watermark.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from creditbank.bench.dataset import Shape, _outcome_row, _statement_row, schools, statements
from creditbank.bench.repository import BenchRepository
from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity
from creditbank.identity.tokens import keyring_for
from creditbank.ledger.service import Deposit, ledger
from creditbank.lrs.models import Statement
from creditbank.reporting.models import LearnerMonth, OutcomeMonth, StatementDay
from creditbank.reporting.repository import ReportingRepository
from creditbank.reporting.service import Dashboard, reporting, roll_up
from creditbank.rules.models import Outcome

OPERATOR = Principal(kind="user", roles=frozenset({"operator"}))
N = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHAPE = Shape(statements=1, learners=1, institutions=3, seed=14, outcomes=1.0, days=1)


class World:
    """Institutions of three types (one without a region), learners, and writers that
    date their rows."""

    def __init__(self, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch):
        self.db, self.settings, self.monkeypatch = db, settings, monkeypatch
        self.institutions: list[tuple[uuid.UUID, str]] = []
        self.learners: list[uuid.UUID] = []
        self.seq = 0
        self.template = next(iter(_template()))

    async def setup(self, learners: int) -> None:
        async with self.db.session_scope() as session:
            for n, (kind, region) in enumerate(
                (("vocational", "420100"), ("community", "420302"), ("senior", None))
            ):
                institution = await identity.create_institution(
                    session,
                    key=f"roll-{n}",
                    name_zh=f"机构{n}",
                    type=kind,
                    accredited=True,
                    region_code=region,
                )
                self.institutions.append((institution.id, institution.key))
            for n in range(learners):
                learner = await identity.create_learner(
                    session, "test", keyring=keyring_for(self.settings), name=f"学员{n}"
                )
                self.learners.append(learner.id)

    async def statement(self, when: datetime, institution: int = 0) -> None:
        self.seq += 1
        item = self.template._replace(id=uuid.uuid4(), stored=when, timestamp=when)
        row = _statement_row(self.seq, item, self.institutions[institution][0])
        async with self.db.session_scope() as session:
            await BenchRepository.from_session(session).load(Statement.__table__, [row])  # type: ignore[arg-type]

    async def outcome(
        self, when: datetime, learner: int, institution: int, credits: str = "2.5"
    ) -> None:
        row = _outcome_row(
            self.learners[learner], schools(SHAPE)[0], self.template, "course-001"
        ) | {
            "id": uuid.uuid4(),
            "unit_code": f"ROLL-{uuid.uuid4().hex[:8]}",
            "evaluation_id": uuid.uuid4(),
            "institution_key": self.institutions[institution][1],
            "credits": Decimal(credits),
            "unit_credits": Decimal(credits),
            "recognised_at": when,
        }
        async with self.db.session_scope() as session:
            await BenchRepository.from_session(session).load(Outcome.__table__, [row])  # type: ignore[arg-type]

    def _clock(self, when: datetime) -> None:
        self.monkeypatch.setattr("creditbank.ledger.service.utc_now", lambda: when)

    async def deposit(self, when: datetime, learner: int) -> uuid.UUID:
        self._clock(when)
        outcome = uuid.uuid4()
        async with self.db.session_scope() as session:
            await ledger.deposit_many(
                session,
                [
                    Deposit(
                        learner_id=self.learners[learner],
                        outcome_id=outcome,
                        amount=Decimal("1.5"),
                        category="vocational",
                        level=3,
                        unit_code="ROLL-1",
                        rule_id="R1",
                        rule_version="1",
                        standards_version="test",
                        statement_ids=[],
                        actor="test",
                        idempotency_key=f"deposit:{outcome}",
                    )
                ],
            )
        return outcome

    async def reverse(self, when: datetime, learner: int, outcome: uuid.UUID) -> None:
        self._clock(when)
        async with self.db.session_scope() as session:
            entries = await ledger.reverse_outcome(
                session,
                learner_id=self.learners[learner],
                outcome_id=outcome,
                reason="statement voided",
                actor="test",
                idempotency_key=f"reverse:{outcome}",
            )
        assert entries

    async def roll_up(self, now: datetime) -> datetime | None:
        async with self.db.session_scope() as session:
            return await roll_up(session, now=now)


def _template() -> Iterator[Any]:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    return statements(SHAPE, end - timedelta(days=1), end)


async def _same_as_live(db: Database, now: datetime, *, months: int, days: int) -> Dashboard:
    """The dashboard equals the live queries over its windows; returns it."""
    async with db.read_scope() as session:
        shown = await reporting.dashboard(session, OPERATOR, months=months, days=days, now=now)
        repo = ReportingRepository.from_session(session)
        live = (
            await repo.recognised(shown.since_month),
            await repo.learners_active(shown.since_month),
            await repo.statements_per_day(shown.since_day),
        )
    assert (shown.recognised, shown.learners_active, shown.statements_per_day) == live
    return shown


async def _all_same_as_live(db: Database, now: datetime) -> Dashboard:
    await _same_as_live(db, now, months=12, days=30)
    return await _same_as_live(db, now, months=16, days=500)


async def _rolled(db: Database) -> tuple[int, int, int]:
    async with db.read_scope() as session:
        counts = [
            (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (OutcomeMonth, StatementDay, LearnerMonth)
        ]
    return counts[0], counts[1], counts[2]


async def test_rollups_plus_the_live_tail_equal_the_live_queries(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(db, settings, monkeypatch)
    await world.setup(learners=6)
    # History: a year and more, every institution, days and months apart.
    for days_ago in (400, 300, 200, 70, 35, 31, 3, 1.2, 0.4):
        when = N - timedelta(days=days_ago)
        for institution in range(3):
            await world.statement(when + timedelta(minutes=institution), institution)
            await world.outcome(when + timedelta(minutes=institution), institution % 2, institution)
    first: dict[int, uuid.UUID] = {}
    for learner, days_ago in ((0, 200), (0, 35), (1, 70), (1, 3), (2, 35), (0, 1.2)):
        first.setdefault(learner, await world.deposit(N - timedelta(days=days_ago), learner))
    await world.reverse(N - timedelta(days=3), 0, first[0])
    # Before any run: no watermark, the live queries themselves.
    await _all_same_as_live(db, N)

    through = await world.roll_up(N)
    assert through == N - timedelta(minutes=5)
    assert all(await _rolled(db))
    shown = await _all_same_as_live(db, N + timedelta(hours=1))
    assert shown.learners_active
    assert shown.recognised
    assert shown.statements_per_day

    # Past the watermark: learner 1 (counted this month by the rollup) again, a new
    # learner, a reversal, statements and outcomes in months the rollup holds.
    await world.deposit(through + timedelta(minutes=1), 1)
    late_learner = await world.deposit(through + timedelta(minutes=30), 3)
    await world.reverse(through + timedelta(minutes=40), 3, late_learner)
    await world.statement(through + timedelta(seconds=1), 2)
    await world.statement(through, 0)
    await world.outcome(through, 0, 0, "0.01")
    await world.outcome(through + timedelta(minutes=2), 1, 2)
    shown = await _all_same_as_live(db, N + timedelta(hours=1))

    # A late posting: dated before the watermark, committed after the run. The next
    # run (which recomputes from the day before its last watermark) counts it.
    await world.deposit(through - timedelta(hours=3), 4)
    await world.outcome(through - timedelta(hours=5), 1, 1, "7.25")
    await world.statement(through - timedelta(hours=6), 1)
    assert await world.roll_up(N + timedelta(minutes=20)) == N + timedelta(minutes=15)
    await _all_same_as_live(db, N + timedelta(hours=1))
    # A run with nothing to settle leaves everything as it is.
    assert await world.roll_up(N + timedelta(minutes=20)) is None
    await _all_same_as_live(db, N + timedelta(days=2))


async def test_a_day_and_month_boundary_on_the_watermark(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(db, settings, monkeypatch)
    await world.setup(learners=3)
    midnight = datetime(2026, 12, 1, tzinfo=UTC)
    just_before = midnight - timedelta(microseconds=1000)
    for learner, when in ((0, just_before), (1, midnight), (2, just_before)):
        await world.deposit(when, learner)
        await world.statement(when, learner)
        await world.outcome(when, learner, learner)
    await world.deposit(midnight, 2)
    assert await world.roll_up(midnight + timedelta(minutes=5)) == midnight
    # November holds the rows before midnight, December's come from the live rows.
    shown = await _all_same_as_live(db, midnight + timedelta(hours=1))
    assert [(c.period, c.count) for c in shown.learners_active] == [
        ("2026-11", 2),
        ("2026-12", 2),
    ]
    assert [(c.period, c.count) for c in shown.statements_per_day][-2:] == [
        ("2026-11-30", 2),
        ("2026-12-01", 1),
    ]
    # The next run folds December in; the answers stay.
    await world.deposit(midnight + timedelta(minutes=30), 0)
    assert await world.roll_up(midnight + timedelta(hours=1)) is not None
    shown = await _all_same_as_live(db, midnight + timedelta(hours=2))
    assert [(c.period, c.count) for c in shown.learners_active] == [
        ("2026-11", 2),
        ("2026-12", 3),
    ]
