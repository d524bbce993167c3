"""Conversion applications and certifier review, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.conversions.errors import (
    AlreadyReviewed,
    DuplicateApplication,
    NotApplicant,
    NotEligible,
    OwnApplication,
    ReasonRequired,
    StaleApplication,
    WrongStatus,
)
from creditbank.conversions.models import Decision
from creditbank.conversions.service import conversions, inbox
from creditbank.errors import Forbidden
from creditbank.ledger.service import ledger
from creditbank.rules.service import rules
from tests.conversions.helpers_conversions import (
    certifier,
    learner,
    li_na,
    publish,
    variant,
)

D = Decimal
WANG = certifier("王老师")
ZHAO = certifier("赵老师")


class TestDryRunAndApply:
    async def test_li_na_converts_c1_and_c2(self, session: AsyncSession, settings: Settings):
        standards = await publish(session)
        learner_id, outcomes = await li_na(session, standards)
        me = learner(learner_id)
        dry = await conversions.options(session, me, settings, learner_id=learner_id)
        offered = {o.rule_id: o.outcome_ids for o in dry.options}
        assert offered == {
            "C1": (str(outcomes["CERT-ELEC-4"]),),
            "C2": (str(outcomes["MOOC-PY-1"]),),
        }
        c1 = await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C1")
        c2 = await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C2")
        assert (c1.status, c1.required_approvals, c1.credits) == ("pending", 1, D("4.00"))
        await conversions.review(
            session, WANG, settings, c1.id, decision=Decision.APPROVE, reason="证书真实有效"
        )
        await conversions.review(
            session, WANG, settings, c2.id, decision=Decision.APPROVE, reason="score 0.91 ≥ 0.80"
        )
        assert (c1.status, c2.status) == ("approved", "approved")
        figures = await ledger.balances(session, learner_id)
        assert (figures.banked, figures.available, figures.converted) == (
            D("10.00"),
            D("2.00"),
            D("8.00"),
        )
        exempted = await ledger.exemptions(session, learner_id)
        assert [u["unit_code"] for u in exempted] == ["HBOU-EE-101", "HBOU-CS-101"]
        assert sum(D(u["credits"]) for u in exempted) == D("6.00")
        with pytest.raises(NotEligible):
            await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C1")
        assert (
            await conversions.options(session, me, settings, learner_id=learner_id)
        ).options == []
        messages = await inbox.messages(session, me, learner_id=learner_id)
        assert {m.kind for m in messages} == {"conversion.approved"}
        assert len(messages) == 2
        await session.commit()
        assert (await ledger.verify(session, learner_id=learner_id)).ok

    async def test_double_submission_is_refused(self, session: AsyncSession, settings: Settings):
        standards = await publish(session)
        learner_id, _ = await li_na(session, standards)
        me = learner(learner_id)
        await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C1")
        with pytest.raises(DuplicateApplication):
            await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C1")

    async def test_revoked_outcome_is_not_eligible(self, session: AsyncSession, settings: Settings):
        standards = await publish(session)
        learner_id, outcomes = await li_na(session, standards)
        outcome = await rules.get_outcome(session, outcomes["CERT-ELEC-4"])
        outcome.status = "revoked"
        await ledger.reverse_outcome(
            session,
            learner_id=learner_id,
            outcome_id=outcome.id,
            reason="voided",
            actor="t",
            idempotency_key="r",
        )
        before = await ledger.balances(session, learner_id)
        with pytest.raises(NotEligible, match="revoked"):
            await conversions.apply(
                session, learner(learner_id), settings, learner_id=learner_id, rule_id="C1"
            )
        assert (await ledger.balances(session, learner_id)).seq == before.seq

    async def test_expired_outcome_is_not_eligible(self, session: AsyncSession, settings: Settings):
        standards = await publish(session)
        learner_id, outcomes = await li_na(session, standards)
        outcome = await rules.get_outcome(session, outcomes["MOOC-PY-1"])
        outcome.status = "expired"
        await ledger.expire_outcome(
            session, learner_id=learner_id, outcome_id=outcome.id, actor="t", idempotency_key="e"
        )
        with pytest.raises(NotEligible):
            await conversions.apply(
                session, learner(learner_id), settings, learner_id=learner_id, rule_id="C2"
            )

    async def test_someone_else_cannot_apply_for_her(
        self, session: AsyncSession, settings: Settings
    ):
        standards = await publish(session)
        learner_id, _ = await li_na(session, standards)
        with pytest.raises(Forbidden):
            await conversions.apply(
                session, learner(uuid.uuid4()), settings, learner_id=learner_id, rule_id="C1"
            )


class TestReview:
    async def _pending(self, session: AsyncSession, settings: Settings, rule: str = "C1") -> Any:
        standards = await publish(session)
        learner_id, _ = await li_na(session, standards)
        application = await conversions.apply(
            session, learner(learner_id), settings, learner_id=learner_id, rule_id=rule
        )
        return learner_id, application

    async def test_certifier_never_reviews_her_own(self, session: AsyncSession, settings: Settings):
        learner_id, application = await self._pending(session, settings)
        herself = certifier("李娜 (also a certifier)", learner_id=learner_id)
        with pytest.raises(OwnApplication):
            await conversions.review(
                session, herself, settings, application.id, decision=Decision.APPROVE, reason="ok"
            )

    async def test_certifier_out_of_scope_is_refused(
        self, session: AsyncSession, settings: Settings
    ):
        _, application = await self._pending(session, settings)
        elsewhere = certifier("other", ("institution", "fxvs"))
        with pytest.raises(Forbidden):
            await conversions.review(
                session, elsewhere, settings, application.id, decision=Decision.APPROVE, reason="ok"
            )
        programme_scope = certifier("programme", ("programme", "hbou-mechatronics-zk"))
        await conversions.review(
            session,
            programme_scope,
            settings,
            application.id,
            decision=Decision.APPROVE,
            reason="ok",
        )
        assert application.status == "approved"

    async def test_reason_is_required(self, session: AsyncSession, settings: Settings):
        _, application = await self._pending(session, settings)
        with pytest.raises(ReasonRequired):
            await conversions.review(
                session, WANG, settings, application.id, decision=Decision.REJECT, reason="  "
            )

    async def test_four_eyes_above_the_threshold(self, session: AsyncSession, settings: Settings):
        settings.conversions.four_eyes_above = D("3.0")
        learner_id, application = await self._pending(session, settings)  # C1: 4.0 credits
        assert application.required_approvals == 2
        await conversions.review(
            session, WANG, settings, application.id, decision=Decision.APPROVE, reason="ok"
        )
        assert application.status == "pending"
        assert (await ledger.balances(session, learner_id)).converted == 0
        with pytest.raises(AlreadyReviewed):
            await conversions.review(
                session, WANG, settings, application.id, decision=Decision.APPROVE, reason="again"
            )
        await conversions.review(
            session, ZHAO, settings, application.id, decision=Decision.APPROVE, reason="agree"
        )
        assert application.status == "approved"
        assert (await ledger.balances(session, learner_id)).converted == D("6.00")

    async def test_reject_then_appeal_to_another_certifier(
        self, session: AsyncSession, settings: Settings
    ):
        learner_id, application = await self._pending(session, settings)
        me = learner(learner_id)
        await conversions.review(
            session, WANG, settings, application.id, decision=Decision.REJECT, reason="证书不清晰"
        )
        assert application.status == "rejected"
        with pytest.raises(WrongStatus):
            await conversions.withdraw(session, me, application.id)
        with pytest.raises(ReasonRequired):
            await conversions.appeal(session, me, application.id, reason="")
        await conversions.appeal(session, me, application.id, reason="附上清晰扫描件")
        assert application.status == "appealed"
        with pytest.raises(Forbidden, match="different certifier"):
            await conversions.review(
                session, WANG, settings, application.id, decision=Decision.APPROVE, reason="ok now"
            )
        await conversions.review(
            session, ZHAO, settings, application.id, decision=Decision.APPROVE, reason="清晰，批准"
        )
        assert application.status == "approved"
        kinds = [m.kind for m in await inbox.messages(session, me, learner_id=learner_id)]
        assert sorted(kinds) == ["conversion.approved", "conversion.rejected"]

    async def test_withdraw_before_decision(self, session: AsyncSession, settings: Settings):
        learner_id, application = await self._pending(session, settings)
        with pytest.raises(NotApplicant):
            await conversions.withdraw(session, learner(uuid.uuid4()), application.id)
        await conversions.withdraw(session, learner(learner_id), application.id)
        assert application.status == "withdrawn"
        with pytest.raises(WrongStatus):
            await conversions.review(
                session, WANG, settings, application.id, decision=Decision.APPROVE, reason="ok"
            )
        # Withdrawn: she may apply again.
        again = await conversions.apply(
            session, learner(learner_id), settings, learner_id=learner_id, rule_id="C1"
        )
        assert again.status == "pending"

    async def test_stale_after_a_standards_change(self, session: AsyncSession, settings: Settings):
        learner_id, application = await self._pending(session, settings)
        before = await ledger.balances(session, learner_id)

        def newer(doc: dict[str, Any]) -> None:
            doc["meta"]["version"] = "2025.1"
            doc["meta"]["effective_from"] = "2025-01-01"

        await publish(session, variant(newer))
        with pytest.raises(StaleApplication):
            await conversions.review(
                session, WANG, settings, application.id, decision=Decision.APPROVE, reason="ok"
            )
        after = await ledger.balances(session, learner_id)
        assert (after.seq, after.available) == (before.seq, before.available)

    async def test_queue_shows_scope_only(self, session: AsyncSession, settings: Settings):
        _, application = await self._pending(session, settings)
        assert [a.id for a in await conversions.queue(session, WANG)] == [application.id]
        assert await conversions.queue(session, certifier("x", ("institution", "fxvs"))) == []
