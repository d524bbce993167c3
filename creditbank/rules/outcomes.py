"""Outcomes (学习成果): what recognition certified, stored and deposited in the ledger.

An outcome is one unit credited to one learner from one statement by one rule
version; it names its evaluation row, whose trace explains it. This module stores
an evaluation with its outcomes and posts each outcome's deposit (idempotency key
``deposit:<outcome id>``), revokes outcomes (a ledger reversal, ``reverse:<id>``),
derives a learner's record (units credited, cap usage) from her outcomes, and
reads outcomes for the API. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.kit import events
from creditbank.kit.time import isoformat_z
from creditbank.ledger.service import Deposit
from creditbank.ledger.service import ledger as ledger_service
from creditbank.rules.accumulation import CapUsage, LearnerRecord
from creditbank.rules.ast import UnitCategory
from creditbank.rules.engine import Evaluation as EngineEvaluation
from creditbank.rules.engine import evaluation_bytes, evaluation_fields
from creditbank.rules.facts import StatementFacts
from creditbank.rules.models import Evaluation, Outcome, OutcomeStatus
from creditbank.rules.repository import RulesRepository
from creditbank.rules.schemas import OutcomeRead
from creditbank.standards.schemas import CapGroup, StandardsSet
from creditbank.standards.service import Published


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


#: Unit categories by value (``UnitCategory(text)`` without the enum call; unknown: absent).
_CATEGORIES: dict[str, UnitCategory] = {category.value: category for category in UnitCategory}


def record_from(
    outcomes: Iterable[Outcome | Counted],
    standards: StandardsSet,
    *,
    start: LearnerRecord | None = None,
) -> LearnerRecord:
    """The record of these outcomes (added to ``start``'s, when given)."""
    units: set[str] = set(start.credited_units) if start is not None else set()
    usage: list[CapUsage] = list(start.cap_usage) if start is not None else []
    policy = standards.accumulation
    zone = policy.calendar_timezone
    active = OutcomeStatus.ACTIVE.value
    caps: dict[str, CapGroup | None] = {}  # by category text (None: uncapped or unknown)
    for outcome in outcomes:
        if outcome.status == active:
            units.add(outcome.unit_code)
        if outcome.category in caps:
            cap = caps[outcome.category]
        else:
            category = _CATEGORIES.get(outcome.category)
            cap = caps[outcome.category] = None if category is None else policy.cap_for(category)
        if cap is not None and outcome.credits > 0:
            year = outcome.statement_timestamp.astimezone(zone).year
            usage.append(CapUsage(group=cap.group, year=year, credits=outcome.credits))
    return LearnerRecord(credited_units=frozenset(units), cap_usage=tuple(usage))


async def counted_of_learners(
    session: AsyncSession, learner_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Counted]]:
    """What :func:`record_from` needs of each learner's active and expired outcomes."""
    rows = await RulesRepository.from_session(session).counted_of_learners(
        learner_ids, statuses=[OutcomeStatus.ACTIVE.value, OutcomeStatus.EXPIRED.value]
    )
    return {learner: [Counted(*values) for values in found] for learner, found in rows.items()}


@dataclass(frozen=True)
class ToStore:
    """One evaluation to log, with the decisions to store as outcomes and deposit."""

    statement_id: uuid.UUID
    learner_id: uuid.UUID
    result: EngineEvaluation
    kind: str
    notes: Sequence[dict[str, str]] = ()


@dataclass(frozen=True)
class Counted:
    """What a learner's record needs of an outcome (see :func:`record_from`)."""

    status: str
    unit_code: str
    category: str
    credits: Decimal
    statement_timestamp: datetime


@dataclass
class Rows:
    """The evaluation-log row and outcome rows of one evaluation, as column values."""

    evaluation: dict[str, Any]
    outcomes: list[dict[str, Any]]

    @property
    def evaluation_id(self) -> uuid.UUID:
        return cast(uuid.UUID, self.evaluation["id"])

    @property
    def outcome_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(cast(uuid.UUID, row["id"]) for row in self.outcomes)

    def counted(self) -> list[Counted]:
        return [
            Counted(
                row["status"],
                row["unit_code"],
                row["category"],
                row["credits"],
                row["statement_timestamp"],
            )
            for row in self.outcomes
        ]


def _json(document: dict[str, Any], *, serialised: bool) -> Any:
    data = evaluation_bytes(document)
    return orjson.Fragment(data) if serialised else orjson.loads(data)


def build_rows(item: ToStore, now: datetime, *, serialised: bool = False) -> Rows:
    """The evaluation-log row and the outcomes of one evaluation (nothing written).

    The detail is the engine's evaluation JSON with the notes; an outcome's trace is
    read from it (:func:`outcome_trace`), so outcomes store none. ``serialised``: as
    JSON text ready to INSERT (``orjson.Fragment``, for rows that never become ORM
    objects), not dicts.
    """
    result = item.result
    ref = result.standards
    reason_zh, reason_en = result.reason.zh, result.reason.en
    if item.notes and not result.recognised:
        reason_zh += "（" + "；".join(n["zh"] for n in item.notes) + "）"
        reason_en += " (" + "; ".join(n["en"] for n in item.notes) + ")"
    detail = _json({**evaluation_fields(result), "notes": list(item.notes)}, serialised=serialised)
    evaluation_id = uuid.uuid4()
    outcomes: list[dict[str, Any]] = []
    for decision in result.decisions:
        if decision.credited <= 0:
            continue
        outcomes.append(
            {
                "id": uuid.uuid4(),
                "learner_id": item.learner_id,
                "unit_code": decision.unit_code,
                "unit_title_zh": decision.unit_title.zh,
                "unit_title_en": decision.unit_title.en,
                "category": decision.category.value,
                "level": decision.level,
                "credits": decision.credited,
                "unit_credits": decision.credits,
                "score_scaled": _scaled_text(result.facts),
                "status": OutcomeStatus.ACTIVE.value,
                "statement_id": item.statement_id,
                "statement_ids": [str(item.statement_id)],
                "institution_key": decision.institution_key,
                "rule_id": decision.rule_id,
                "rule_version": decision.rule_version,
                "standards_id": decision.standards.id,
                "standards_version": decision.standards.version,
                "standards_hash": decision.standards.hash,
                "evaluation_id": evaluation_id,
                # Read from the evaluation row (outcome_trace), not stored twice.
                "trace": None,
                "requires_review": decision.requires_review,
                "recognised_at": now,
                "statement_timestamp": decision.achieved_at,
                "expires_at": decision.accumulation.expires_at,
                "revoked_at": None,
                "revoked_reason": None,
                "superseded_by": None,
            }
        )
    evaluation = {
        "id": evaluation_id,
        "statement_id": item.statement_id,
        "learner_id": item.learner_id,
        "institution_key": result.facts.institution_key,
        "kind": item.kind,
        "standards_id": ref.id,
        "standards_version": ref.version,
        "standards_hash": ref.hash,
        "recognised": result.recognised,
        "unit_code": result.unit_code,
        "credited": result.credited,
        "reason_zh": reason_zh,
        "reason_en": reason_en,
        "outcome_id": outcomes[0]["id"] if outcomes else None,
        "detail": detail,
        "evaluated_at": now,
    }
    return Rows(evaluation, outcomes)


def outcome_trace(outcome: Outcome, detail: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Why this outcome was credited: the reason, the gates, its rule's trace and its
    accumulation.

    Outcomes stored before ``rules_0003`` carry it; newer ones are read from ``detail``,
    their evaluation row's (``outcome.evaluation_id``): the same parts of the same
    engine result, so the same document.
    """
    if outcome.trace is not None:
        return outcome.trace
    if detail is None:
        return None
    trace = detail.get("trace") or {}
    rule = next((t for t in trace.get("rules", ()) if t.get("rule_id") == outcome.rule_id), None)
    decision = next(
        (
            d
            for d in detail.get("decisions", ())
            if d.get("rule_id") == outcome.rule_id and d.get("unit_code") == outcome.unit_code
        ),
        None,
    )
    return {
        "reason": detail.get("reason"),
        "gates": trace.get("gates"),
        "rule": rule,
        "accumulation": decision.get("accumulation") if decision is not None else None,
    }


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
    rows = build_rows(ToStore(statement_id, learner_id, result, kind, notes), now)
    evaluation = Evaluation(**rows.evaluation)
    outcomes = [Outcome(**row) for row in rows.outcomes]
    await RulesRepository.from_session(session).add(evaluation, *outcomes)
    for outcome in outcomes:
        await deposit(session, outcome, actor=actor)
    return evaluation, outcomes


async def store_rows(session: AsyncSession, stored: Sequence[Rows], *, actor: str) -> None:
    """Batch :func:`store_evaluation` of rows from :func:`build_rows`: multi-row INSERTs
    of the log rows and outcomes, then one batch of ledger deposits (each learner's
    chain in the order given). The caller holds the learners' locks.
    """
    outcomes = [row for rows in stored for row in rows.outcomes]
    await RulesRepository.from_session(session).insert_rows(
        [rows.evaluation for rows in stored], outcomes
    )
    await ledger_service.deposit_many(
        session, [deposit_of_row(row, actor=actor) for row in outcomes]
    )


def deposit_key(outcome_id: uuid.UUID) -> str:
    """The idempotency key of an outcome's deposit: an outcome is credited once."""
    return f"deposit:{outcome_id}"


#: The outcome columns its deposit carries.
_DEPOSIT_COLUMNS = (
    "id",
    "learner_id",
    "credits",
    "category",
    "level",
    "unit_code",
    "rule_id",
    "rule_version",
    "standards_version",
    "statement_ids",
)


def deposit_of_row(row: Mapping[str, Any], *, actor: str) -> Deposit:
    """The ledger deposit of an outcome given as column values (an ``Outcome``'s, a
    :func:`build_rows` row, a bench dataset row)."""
    return Deposit(
        learner_id=row["learner_id"],
        outcome_id=row["id"],
        amount=row["credits"],
        category=row["category"],
        level=row["level"],
        unit_code=row["unit_code"],
        rule_id=row["rule_id"],
        rule_version=str(row["rule_version"]),
        standards_version=row["standards_version"],
        statement_ids=list(row["statement_ids"]),
        actor=actor,
        idempotency_key=deposit_key(row["id"]),
    )


def _deposit_of(outcome: Outcome, *, actor: str) -> Deposit:
    return deposit_of_row({name: getattr(outcome, name) for name in _DEPOSIT_COLUMNS}, actor=actor)


async def deposit(session: AsyncSession, outcome: Outcome, *, actor: str) -> None:
    """Credit one stored outcome (idempotency key ``deposit:<outcome id>``)."""
    await ledger_service.deposit_many(session, [_deposit_of(outcome, actor=actor)])


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
    await events.emit(
        session,
        [
            events.Event(
                type=events.OUTCOME_REVOKED,
                id=f"{events.OUTCOME_REVOKED}:{outcome.id}",
                institution_key=outcome.institution_key,
                data={
                    "outcome_id": str(outcome.id),
                    "learner_id": str(outcome.learner_id),
                    "unit_code": outcome.unit_code,
                    "credits": str(outcome.credits),
                    "statement_id": str(outcome.statement_id),
                    "status": outcome.status,
                    "reason": reason,
                    "revoked_at": isoformat_z(now),
                },
            )
        ],
    )


async def list_outcomes(
    session: AsyncSession, learner_id: uuid.UUID, *, status: str | None = None
) -> list[Outcome]:
    statuses = [status] if status else None
    return await RulesRepository.from_session(session).outcomes_of(learner_id, statuses=statuses)


def is_active(outcome: Outcome) -> bool:
    """Whether the outcome counts now (not voided, revoked nor expired)."""
    return outcome.status == OutcomeStatus.ACTIVE.value


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
    evaluations = await repo.evaluations_of_learner(learner_id)
    details: dict[uuid.UUID, dict[str, Any] | None] = {e.id: e.detail for e in evaluations}
    exported = []
    for outcome in await repo.outcomes_of(learner_id):
        if outcome.trace is None and outcome.evaluation_id not in details:
            evaluation = await repo.evaluation(outcome.evaluation_id)
            details[outcome.evaluation_id] = evaluation.detail if evaluation else None
        exported.append(
            {
                **OutcomeRead.model_validate(outcome).model_dump(mode="json"),
                "trace": outcome_trace(outcome, details.get(outcome.evaluation_id)),
            }
        )
    return {
        "outcomes": exported,
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
            for evaluation in evaluations
        ],
    }
