"""Outcomes (学习成果): what recognition certified, stored and deposited in the ledger.

An outcome is one unit credited to one learner from one statement by one rule
version; it carries its trace, so it can always be explained. This module stores
an evaluation with its outcomes and posts each outcome's deposit (idempotency key
``deposit:<outcome id>``), revokes outcomes (a ledger reversal, ``reverse:<id>``),
derives a learner's record (units credited, cap usage) from her outcomes, and
reads outcomes for the API. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.kit.time import isoformat_z
from creditbank.ledger.service import ledger as ledger_service
from creditbank.rules.accumulation import CapUsage, LearnerRecord
from creditbank.rules.ast import UnitCategory
from creditbank.rules.engine import Evaluation as EngineEvaluation
from creditbank.rules.engine import RecognitionDecision
from creditbank.rules.facts import StatementFacts
from creditbank.rules.models import Evaluation, Outcome, OutcomeStatus
from creditbank.rules.repository import RulesRepository
from creditbank.rules.schemas import OutcomeRead
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import Published

ZERO = Decimal("0.00")


def _scaled_text(facts: StatementFacts) -> str | None:
    return None if facts.scaled is None else format(facts.scaled, "f")


async def learner_record(
    session: AsyncSession, learner_id: uuid.UUID, standards: StandardsSet
) -> LearnerRecord:
    """Units credited (active outcomes) and cap usage (active + expired) per year."""
    outcomes = await RulesRepository.from_session(session).outcomes_of(
        learner_id, statuses=[OutcomeStatus.ACTIVE.value, OutcomeStatus.EXPIRED.value]
    )
    return record_from(outcomes, standards)


def record_from(outcomes: Iterable[Outcome], standards: StandardsSet) -> LearnerRecord:
    units: set[str] = set()
    usage: list[CapUsage] = []
    policy = standards.accumulation
    for outcome in outcomes:
        if outcome.status == OutcomeStatus.ACTIVE.value:
            units.add(outcome.unit_code)
        try:
            category = UnitCategory(outcome.category)
        except ValueError:
            continue
        cap = policy.cap_for(category)
        if cap is not None and outcome.credits > 0:
            year = outcome.statement_timestamp.astimezone(policy.calendar_timezone).year
            usage.append(CapUsage(group=cap.group, year=year, credits=outcome.credits))
    return LearnerRecord(credited_units=frozenset(units), cap_usage=tuple(usage))


async def store_evaluation(
    session: AsyncSession,
    statement_id: uuid.UUID,
    learner_id: uuid.UUID,
    result: EngineEvaluation,
    published: Published,
    *,
    kind: str,
    notes: Sequence[dict[str, str]] = (),
    actor: str,
    now: datetime,
) -> tuple[Evaluation, list[Outcome]]:
    """Log the evaluation; store and deposit each decision that credits something."""
    repo = RulesRepository.from_session(session)
    ref = result.standards
    reason_zh, reason_en = result.reason.zh, result.reason.en
    if notes and not result.recognised:
        reason_zh += "（" + "；".join(n["zh"] for n in notes) + "）"
        reason_en += " (" + "; ".join(n["en"] for n in notes) + ")"
    detail = result.model_dump(mode="json")
    detail["notes"] = list(notes)
    evaluation = Evaluation(
        id=uuid.uuid4(),
        statement_id=statement_id,
        learner_id=learner_id,
        institution_key=result.facts.institution_key,
        kind=kind,
        standards_id=ref.id,
        standards_version=ref.version,
        standards_hash=ref.hash,
        recognised=result.recognised,
        unit_code=result.unit_code,
        credited=result.credited,
        reason_zh=reason_zh,
        reason_en=reason_en,
        detail=detail,
        evaluated_at=now,
    )
    outcomes = [
        new_outcome(decision, result, evaluation, learner_id, statement_id, now)
        for decision in result.decisions
        if decision.credited > 0
    ]
    if outcomes:
        evaluation.outcome_id = outcomes[0].id
    await repo.add(evaluation, *outcomes)
    for outcome in outcomes:
        await deposit(session, outcome, actor=actor)
    return evaluation, outcomes


def new_outcome(
    decision: RecognitionDecision,
    result: EngineEvaluation,
    evaluation: Evaluation,
    learner_id: uuid.UUID,
    statement_id: uuid.UUID,
    now: datetime,
) -> Outcome:
    rule_trace = next((t for t in result.trace.rules if t.rule_id == decision.rule_id), None)
    return Outcome(
        id=uuid.uuid4(),
        learner_id=learner_id,
        unit_code=decision.unit_code,
        unit_title_zh=decision.unit_title.zh,
        unit_title_en=decision.unit_title.en,
        category=decision.category.value,
        level=decision.level,
        credits=decision.credited,
        unit_credits=decision.credits,
        score_scaled=_scaled_text(result.facts),
        status=OutcomeStatus.ACTIVE.value,
        statement_id=statement_id,
        statement_ids=[str(statement_id)],
        institution_key=decision.institution_key,
        rule_id=decision.rule_id,
        rule_version=decision.rule_version,
        standards_id=decision.standards.id,
        standards_version=decision.standards.version,
        standards_hash=decision.standards.hash,
        evaluation_id=evaluation.id,
        trace={
            "reason": result.reason.model_dump(mode="json"),
            "gates": [g.model_dump(mode="json") for g in result.trace.gates],
            "rule": rule_trace.model_dump(mode="json") if rule_trace else None,
            "accumulation": decision.accumulation.model_dump(mode="json"),
        },
        requires_review=decision.requires_review,
        recognised_at=now,
        statement_timestamp=decision.achieved_at,
        expires_at=decision.accumulation.expires_at,
    )


async def deposit(session: AsyncSession, outcome: Outcome, *, actor: str) -> None:
    await ledger_service.deposit(
        session,
        learner_id=outcome.learner_id,
        outcome_id=outcome.id,
        amount=outcome.credits,
        category=outcome.category,
        level=outcome.level,
        unit_code=outcome.unit_code,
        rule_id=outcome.rule_id,
        rule_version=str(outcome.rule_version),
        standards_version=outcome.standards_version,
        statement_ids=list(outcome.statement_ids),
        actor=actor,
        idempotency_key=f"deposit:{outcome.id}",
    )


async def revoke(
    session: AsyncSession,
    outcome: Outcome,
    *,
    reason: str,
    actor: str,
    now: datetime,
    status: OutcomeStatus = OutcomeStatus.REVOKED,
) -> None:
    outcome.status = status.value
    outcome.revoked_at = now
    outcome.revoked_reason = reason
    await session.flush()
    await ledger_service.reverse_outcome(
        session,
        learner_id=outcome.learner_id,
        outcome_id=outcome.id,
        reason=reason,
        actor=actor,
        idempotency_key=f"reverse:{outcome.id}",
    )


async def list_outcomes(
    session: AsyncSession, learner_id: uuid.UUID, *, status: str | None = None
) -> list[Outcome]:
    statuses = [status] if status else None
    return await RulesRepository.from_session(session).outcomes_of(learner_id, statuses=statuses)


async def get_outcome(session: AsyncSession, outcome_id: uuid.UUID) -> Outcome:
    outcome = await RulesRepository.from_session(session).outcome(outcome_id)
    if outcome is None:
        raise NotFound(f"no outcome {outcome_id} / 成果不存在", code="outcome_not_found")
    return outcome


# -- a caller's view: authorized here, through identity.authz ---------------------------


async def outcomes_for(
    session: AsyncSession,
    principal: Principal,
    learner_id: uuid.UUID,
    *,
    status: str | None = None,
) -> list[Outcome]:
    """A learner's outcomes, for her or the operator."""
    authz.require_learner_access(principal, learner_id)
    return await list_outcomes(session, learner_id, status=status)


async def read_outcome(
    session: AsyncSession, principal: Principal, outcome_id: uuid.UUID
) -> Outcome:
    """One outcome, for its learner or the operator."""
    outcome = await get_outcome(session, outcome_id)
    authz.require_learner_access(principal, outcome.learner_id)
    return outcome


async def export_learner_data(session: AsyncSession, learner_id: uuid.UUID) -> dict[str, Any]:
    """Her section of the learner export: every outcome with its trace, every evaluation.

    Erasure keeps them: they name only the learner id, and the ledger's deposits and
    conversions refer to them (docs/data-classification.md, "Erasure").
    """
    repo = RulesRepository.from_session(session)
    return {
        "outcomes": [
            {
                **OutcomeRead.model_validate(outcome).model_dump(mode="json"),
                "trace": outcome.trace,
            }
            for outcome in await repo.outcomes_of(learner_id)
        ],
        "evaluations": [
            {
                "id": str(evaluation.id),
                "statement_id": str(evaluation.statement_id),
                "kind": evaluation.kind,
                "institution_key": evaluation.institution_key,
                "standards_id": evaluation.standards_id,
                "standards_version": evaluation.standards_version,
                "recognised": evaluation.recognised,
                "unit_code": evaluation.unit_code,
                "credited": f"{evaluation.credited:.2f}",
                "reason_zh": evaluation.reason_zh,
                "reason_en": evaluation.reason_en,
                "outcome_id": str(evaluation.outcome_id) if evaluation.outcome_id else None,
                "detail": evaluation.detail,
                "evaluated_at": isoformat_z(evaluation.evaluated_at),
            }
            for evaluation in await repo.evaluations_of_learner(learner_id)
        ],
    }
