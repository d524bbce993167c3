"""Ledger postings, figures and idempotency on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.identity.principal import Principal
from creditbank.ledger.errors import (
    IdempotencyKeyReused,
    InsufficientCredits,
    InvalidAmount,
    NonPositiveAmount,
    OperatorOnly,
    OutcomeAlreadyDeposited,
    OutcomeNotInLedger,
    ReasonRequired,
)
from creditbank.ledger.service import ledger
from tests.ledger.helpers_ledger import deposit

D = Decimal
OPERATOR = Principal(kind="user", id=uuid.uuid4(), roles=frozenset({"operator"}), label="ops")


class TestDeposit:
    async def test_deposit_raises_banked_and_available(self, session: AsyncSession):
        learner = uuid.uuid4()
        first = await deposit(session, learner, "6.0")
        second = await deposit(session, learner, "2.0", unit_code="MOOC-PY-1", category="mooc")
        await session.commit()
        assert (first.seq, second.seq) == (1, 2)
        assert second.prev_hash == first.hash
        figures = await ledger.balances(session, learner)
        assert (figures.banked, figures.available, figures.converted) == (
            D("8.00"),
            D("8.00"),
            D("0"),
        )
        assert figures.by_category["vocational"].available == D("6.00")
        assert figures.by_category["mooc"].banked == D("2.00")
        assert figures.by_level["4"].available == D("8.00")

    async def test_same_key_returns_the_first_entry_and_posts_once(self, session: AsyncSession):
        learner, outcome = uuid.uuid4(), uuid.uuid4()
        first = await deposit(session, learner, "6.0", outcome_id=outcome, key="k1")
        again = await deposit(session, learner, "6.0", outcome_id=outcome, key="k1")
        await session.commit()
        assert again.id == first.id
        assert (await ledger.balances(session, learner)).banked == D("6.00")

    async def test_same_outcome_under_another_key_is_refused(self, session: AsyncSession):
        learner, outcome = uuid.uuid4(), uuid.uuid4()
        await deposit(session, learner, "6.0", outcome_id=outcome, key="k1")
        with pytest.raises(OutcomeAlreadyDeposited):
            await deposit(session, learner, "6.0", outcome_id=outcome, key="k2")

    async def test_key_reused_for_another_learner_is_refused(self, session: AsyncSession):
        await deposit(session, uuid.uuid4(), "1.0", key="shared")
        with pytest.raises(IdempotencyKeyReused):
            await deposit(session, uuid.uuid4(), "1.0", key="shared")

    @pytest.mark.parametrize("amount", ["0", "-1.0", "0.00"])
    async def test_zero_or_negative_is_refused(self, session: AsyncSession, amount: str):
        learner = uuid.uuid4()
        with pytest.raises(NonPositiveAmount):
            await deposit(session, learner, amount)
        assert (await ledger.balances(session, learner)).seq == 0

    async def test_finer_than_hundredths_is_refused(self, session: AsyncSession):
        with pytest.raises(InvalidAmount):
            await deposit(session, uuid.uuid4(), "0.005")


class TestConversionExpiryReversal:
    async def test_li_na_figures(self, session: AsyncSession):
        learner = uuid.uuid4()
        elec = (await deposit(session, learner, "6.0")).outcome_id
        py = (
            await deposit(session, learner, "2.0", unit_code="MOOC-PY-1", category="mooc")
        ).outcome_id
        fa = (
            await deposit(
                session, learner, "1.0", unit_code="COMM-FA-16", category="community", level=2
            )
        ).outcome_id
        await deposit(session, learner, "1.0", unit_code="SEN-CAL-1", category="senior", level=2)
        assert elec
        assert py
        assert fa
        figures = await ledger.balances(session, learner)
        assert (figures.banked, figures.available) == (D("10.00"), D("10.00"))
        for outcome, rule, unit in ((elec, "C1", "HBOU-EE-101"), (py, "C2", "HBOU-CS-101")):
            await ledger.convert(
                session,
                learner_id=learner,
                conversion_id=uuid.uuid4(),
                outcome_ids=[outcome],
                target={"institution_key": "hbou", "units": [{"unit_code": unit}]},
                rule_id=rule,
                rule_version="1",
                standards_version="demo-1",
                actor="certifier:wang",
                idempotency_key=f"conversion:{rule}",
            )
        figures = await ledger.balances(session, learner)
        assert (figures.banked, figures.available, figures.converted) == (
            D("10.00"),
            D("2.00"),
            D("8.00"),
        )
        reversed_ = await ledger.reverse_outcome(
            session,
            learner_id=learner,
            outcome_id=fa,
            reason="statement 4 voided",
            actor="worker",
            idempotency_key="void:4",
        )
        assert [e.kind for e in reversed_] == ["reversal"]
        assert reversed_[0].statement_ids  # provenance copied from the deposit
        figures = await ledger.balances(session, learner)
        assert (figures.banked, figures.available) == (D("9.00"), D("1.00"))
        assert figures.by_category["community"].banked == 0
        assert [u["unit_code"] for u in await ledger.exemptions(session, learner)] == [
            "HBOU-EE-101",
            "HBOU-CS-101",
        ]
        await session.commit()
        assert (await ledger.verify(session, learner_id=learner)).ok

    async def test_converted_outcome_cannot_be_converted_again(self, session: AsyncSession):
        learner = uuid.uuid4()
        elec = (await deposit(session, learner, "6.0")).outcome_id
        assert elec
        kwargs = {
            "learner_id": learner,
            "outcome_ids": [elec],
            "target": {},
            "rule_id": "C1",
            "rule_version": "1",
            "standards_version": "demo-1",
            "actor": "c",
        }
        await ledger.convert(session, conversion_id=uuid.uuid4(), idempotency_key="a", **kwargs)  # type: ignore[arg-type]
        with pytest.raises(InsufficientCredits):
            await ledger.convert(session, conversion_id=uuid.uuid4(), idempotency_key="b", **kwargs)  # type: ignore[arg-type]

    async def test_expiry_moves_available_to_expired(self, session: AsyncSession):
        learner = uuid.uuid4()
        outcome = (await deposit(session, learner, "3.0")).outcome_id
        assert outcome
        entry = await ledger.expire_outcome(
            session, learner_id=learner, outcome_id=outcome, actor="sweep", idempotency_key="e1"
        )
        assert entry is not None
        assert entry.kind == "expiry"
        assert (
            await ledger.expire_outcome(
                session, learner_id=learner, outcome_id=outcome, actor="sweep", idempotency_key="e2"
            )
            is None
        )
        figures = await ledger.balances(session, learner)
        assert (figures.banked, figures.available, figures.expired) == (D("0"), D("0"), D("3.00"))

    async def test_reversal_of_unknown_outcome_is_empty(self, session: AsyncSession):
        assert (
            await ledger.reverse_outcome(
                session,
                learner_id=uuid.uuid4(),
                outcome_id=uuid.uuid4(),
                reason="x",
                actor="w",
                idempotency_key="r",
            )
            == []
        )

    async def test_reversal_needs_a_reason(self, session: AsyncSession):
        with pytest.raises(ReasonRequired):
            await ledger.reverse_outcome(
                session,
                learner_id=uuid.uuid4(),
                outcome_id=uuid.uuid4(),
                reason=" ",
                actor="w",
                idempotency_key="r",
            )

    async def test_convert_an_outcome_of_someone_else_is_refused(self, session: AsyncSession):
        outcome = (await deposit(session, uuid.uuid4(), "3.0")).outcome_id
        assert outcome
        with pytest.raises(OutcomeNotInLedger):
            await ledger.convert(
                session,
                learner_id=uuid.uuid4(),
                conversion_id=uuid.uuid4(),
                outcome_ids=[outcome],
                target={},
                rule_id="C1",
                rule_version="1",
                standards_version="demo-1",
                actor="c",
                idempotency_key="x",
            )


class TestAdjust:
    async def test_operator_adjusts_with_reason(self, session: AsyncSession):
        learner = uuid.uuid4()
        entry = await ledger.adjust(
            session,
            principal=OPERATOR,
            learner_id=learner,
            amount=D("1.5"),
            reason="migration from paper records",
            idempotency_key="adj1",
        )
        assert entry.kind == "adjustment"
        assert entry.actor == "operator:ops"
        with pytest.raises(InsufficientCredits):
            await ledger.adjust(
                session,
                principal=OPERATOR,
                learner_id=learner,
                amount=D("-2"),
                reason="too much",
                idempotency_key="adj2",
            )
        figures = await ledger.balances(session, learner)
        assert figures.available == D("1.50")
        assert figures.by_category["adjustment"].available == D("1.50")

    async def test_non_operator_is_refused(self, session: AsyncSession):
        learner_user = Principal(kind="user", id=uuid.uuid4(), roles=frozenset({"learner"}))
        with pytest.raises(OperatorOnly):
            await ledger.adjust(
                session,
                principal=learner_user,
                learner_id=uuid.uuid4(),
                amount=D("1"),
                reason="please",
                idempotency_key="adj",
            )

    async def test_zero_and_no_reason_are_refused(self, session: AsyncSession):
        with pytest.raises(NonPositiveAmount):
            await ledger.adjust(
                session,
                principal=OPERATOR,
                learner_id=uuid.uuid4(),
                amount=D("0"),
                reason="r",
                idempotency_key="z",
            )
        with pytest.raises(ReasonRequired):
            await ledger.adjust(
                session,
                principal=OPERATOR,
                learner_id=uuid.uuid4(),
                amount=D("1"),
                reason="",
                idempotency_key="z",
            )


class TestAsOf:
    async def test_balance_as_of_a_past_time(self, session: AsyncSession):
        learner = uuid.uuid4()
        first = await deposit(session, learner, "6.0")
        await deposit(session, learner, "2.0", unit_code="MOOC-PY-1")
        await session.commit()
        before = await ledger.balances(session, learner, as_of=first.posted_at)
        assert before.available == D("6.00")
        assert before.seq == 1
        nothing = await ledger.balances(
            session, learner, as_of=first.posted_at - timedelta(seconds=1)
        )
        assert nothing.seq == 0
        assert nothing.banked == 0


class TestBalancesStayFast:
    async def test_thousands_of_entries_one_row_read(self, session: AsyncSession):
        import time

        learner = uuid.uuid4()
        for i in range(2000):
            await deposit(session, learner, "0.5", unit_code=f"U{i}", category=f"c{i % 5}")
        await session.commit()
        middle = (await ledger.entries(session, learner, after_seq=999, limit=1))[0]
        started = time.perf_counter()
        for _ in range(20):
            now = await ledger.balances(session, learner)
            then = await ledger.balances(session, learner, as_of=middle.posted_at)
        per_query = (time.perf_counter() - started) / 40
        assert now.banked == D("1000.00")
        assert now.by_category["c0"].banked == D("200.00")
        assert then.seq == 1000
        assert then.banked == D("500.00")
        # One indexed row, however long the history (generous bound for a loaded CI box).
        assert per_query < 0.2, f"{per_query * 1000:.1f} ms per balance query"


class TestAdjustTakesBackFromAnOutcome:
    async def test_negative_adjustment_names_the_outcome(self, session: AsyncSession):
        learner = uuid.uuid4()
        outcome = (await deposit(session, learner, "3.0")).outcome_id
        with pytest.raises(InsufficientCredits):
            await ledger.adjust(
                session,
                principal=OPERATOR,
                learner_id=learner,
                amount=D("-1"),
                reason="loose",
                idempotency_key="n1",
            )
        entry = await ledger.adjust(
            session,
            principal=OPERATOR,
            learner_id=learner,
            amount=D("-1"),
            reason="double-counted hours",
            idempotency_key="n2",
            outcome_id=outcome,
        )
        assert entry.unit_code == "CERT-ELEC-4"
        assert outcome is not None
        # The outcome's remainder can still expire without driving anything negative.
        await ledger.expire_outcome(
            session, learner_id=learner, outcome_id=outcome, actor="sweep", idempotency_key="x"
        )
        figures = await ledger.balances(session, learner)
        assert (figures.available, figures.expired) == (D("0"), D("2.00"))
        await session.commit()
        assert (await ledger.verify(session, learner_id=learner)).ok
