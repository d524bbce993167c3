"""An outcome's life after recognition: revoked when its statement is voided
(the freed unit re-credited from the learner's next eligible statement), expired
when its validity ends. Each change is a ledger entry. Never commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.kit.credits import ZERO
from creditbank.kit.time import utc_now
from creditbank.ledger.service import ledger as ledger_service
from creditbank.rules.engine import evaluate_statement
from creditbank.rules.facts import StatementFacts
from creditbank.rules.models import Evaluation, Outcome, OutcomeStatus
from creditbank.rules.outcomes import learner_record, revoke, store_evaluation
from creditbank.rules.repository import RulesRepository
from creditbank.standards.service import NoStandardsInForce
from creditbank.standards.service import standards as standards_service


async def statement_voided(
    session: AsyncSession,
    statement_id: uuid.UUID,
    *,
    voiding_statement_id: uuid.UUID | None,
    actor: str,
    standards_set: str | None = None,
    now: datetime | None = None,
) -> list[Outcome]:
    """Revoke the outcomes of a voided statement; the ledger records the reversals."""
    now = now or utc_now()
    repo = RulesRepository.from_session(session)
    await repo.release(statement_id)
    outcomes = await repo.active_outcomes_of_statement(statement_id)
    previous = await repo.latest_evaluation(statement_id)
    learner_id = (
        outcomes[0].learner_id
        if outcomes
        else (previous.learner_id if previous is not None else None)
    )
    if learner_id is not None:
        await repo.lock("learner", str(learner_id))
        outcomes = await repo.active_outcomes_of_statement(statement_id)
    if previous is not None and previous.kind == "voided":
        return []
    by = f" by statement {voiding_statement_id}" if voiding_statement_id else ""
    reason = f"statement {statement_id} voided{by} / 陈述已撤销"
    for outcome in outcomes:
        await revoke(session, outcome, reason=reason, actor=actor, now=now)
    await repo.add(
        Evaluation(
            statement_id=statement_id,
            learner_id=learner_id,
            institution_key=previous.institution_key if previous else None,
            kind="voided",
            recognised=False,
            credited=ZERO,
            reason_zh=f"已撤销：陈述被撤销（voiding 陈述 {voiding_statement_id}），成果随之撤销",
            reason_en=f"voided: the statement was voided (voiding statement "
            f"{voiding_statement_id}); its outcomes are revoked",
            detail={
                "voiding_statement_id": str(voiding_statement_id) if voiding_statement_id else None,
                "revoked_outcomes": [str(o.id) for o in outcomes],
            },
            evaluated_at=now,
        )
    )
    if learner_id is not None and outcomes:
        await _recredit(
            session,
            learner_id,
            {o.unit_code for o in outcomes},
            exclude=statement_id,
            actor=actor,
            standards_set=standards_set,
            now=now,
        )
    return outcomes


async def _recredit(
    session: AsyncSession,
    learner_id: uuid.UUID,
    units: set[str],
    *,
    exclude: uuid.UUID,
    actor: str,
    standards_set: str | None,
    now: datetime,
) -> None:
    """A unit freed by a revocation is credited from the learner's next statement of
    it that was refused only because the unit was already credited."""
    repo = RulesRepository.from_session(session)
    try:
        published = await standards_service.in_force(session, now, set_id=standards_set)
    except NoStandardsInForce:
        return
    for statement_id in await repo.statements_of_learner(learner_id):
        if not units:
            return
        if statement_id == exclude:
            continue
        latest = await repo.latest_evaluation(statement_id)
        if (
            latest is None
            or latest.kind not in ("statement", "reevaluation")
            or latest.unit_code not in units
            or latest.credited > 0
            or "facts" not in latest.detail
        ):
            continue
        facts = StatementFacts.model_validate(latest.detail["facts"])
        record = await learner_record(session, learner_id, published.standards)
        result = evaluate_statement(facts, record, published.standards)
        _, created = await store_evaluation(
            session,
            statement_id,
            learner_id,
            result,
            published,
            kind="reevaluation",
            actor=actor,
            now=now,
        )
        units -= {o.unit_code for o in created}


async def expiry_sweep(
    session: AsyncSession, *, actor: str, now: datetime | None = None, limit: int = 500
) -> int:
    """Expire outcomes whose validity ended; the ledger records an expiry entry each."""
    now = now or utc_now()
    repo = RulesRepository.from_session(session)
    due = await repo.due_to_expire(now, limit)
    for outcome in due:
        await repo.lock("learner", str(outcome.learner_id))
        outcome.status = OutcomeStatus.EXPIRED.value
        await session.flush()
        await ledger_service.expire_outcome(
            session,
            learner_id=outcome.learner_id,
            outcome_id=outcome.id,
            actor=actor,
            idempotency_key=f"expire:{outcome.id}",
        )
    return len(due)
