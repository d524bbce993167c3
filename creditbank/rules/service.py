"""Recognition and accumulation applied: statements in, outcomes and ledger deposits out.

The pure engine (:mod:`creditbank.rules.engine`) decides; this service gathers its
input (the statement, the sender's accreditation, the learner's record, the
standards in force), stores what it decided (the evaluation log, outcomes) and
posts to the ledger with idempotency keys, so running a job twice never credits
twice. It also revokes outcomes of voided statements, expires outcomes, holds
statements of actors not yet linked to a learner, and re-evaluates learners under
a new standards version (a dry-run report first, then compensating entries).

Work on one actor and one learner is serialised (advisory locks on PostgreSQL,
one writer on SQLite), so concurrent workers never credit from a stale record.
Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import BadRequest, NotFound
from creditbank.identity import authz
from creditbank.identity.models import Institution
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service
from creditbank.kit.time import utc_now
from creditbank.ledger.service import ledger as ledger_service
from creditbank.lrs.service import StatementForProcessing, get_statement_for_processing
from creditbank.lrs.xapi.ifi import agent_ifi
from creditbank.rules.accumulation import CapUsage, LearnerRecord
from creditbank.rules.ast import InstitutionType, UnitCategory
from creditbank.rules.engine import Evaluation as EngineEvaluation
from creditbank.rules.engine import RecognitionDecision, evaluate_statement
from creditbank.rules.facts import StatementFacts, StatementFactsError, facts_from_statement
from creditbank.rules.models import Evaluation, HeldStatement, Outcome, OutcomeStatus
from creditbank.rules.repository import RulesRepository
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import NoStandardsInForce, Published, actor_label
from creditbank.standards.service import standards as standards_service

ZERO = Decimal("0.00")
ENGINE_TYPES = frozenset(t.value for t in InstitutionType)


class StatementMissing(NotFound):
    """The job names a statement the store does not have."""

    code = "statement_not_found"


@dataclass(frozen=True)
class Processed:
    """What came of processing one statement."""

    status: str  # recognised | not_recognised | held | skipped
    evaluation_id: uuid.UUID | None = None
    outcome_ids: tuple[uuid.UUID, ...] = ()
    reason: str = ""


@dataclass
class Change:
    """One unit of one learner that a new standards version would change."""

    learner_id: uuid.UUID
    unit_code: str
    change: str  # added | removed | changed
    old_outcome_id: uuid.UUID | None
    old_credits: Decimal
    new_credits: Decimal
    old_rule: str | None
    new_rule: str | None
    statement_id: uuid.UUID | None

    @property
    def delta(self) -> Decimal:
        return self.new_credits - self.old_credits

    def as_json(self) -> dict[str, Any]:
        return {
            "learner_id": str(self.learner_id),
            "unit_code": self.unit_code,
            "change": self.change,
            "old_outcome_id": str(self.old_outcome_id) if self.old_outcome_id else None,
            "old_credits": f"{self.old_credits:.2f}",
            "new_credits": f"{self.new_credits:.2f}",
            "delta": f"{self.delta:.2f}",
            "old_rule": self.old_rule,
            "new_rule": self.new_rule,
            "statement_id": str(self.statement_id) if self.statement_id else None,
        }


@dataclass
class ReevaluationReport:
    """What applying a standards version to every learner changes (or changed)."""

    standards_id: str
    standards_version: str
    standards_hash: str
    applied: bool
    learners: int = 0
    changes: list[Change] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        by_learner: dict[str, list[dict[str, Any]]] = {}
        for change in self.changes:
            by_learner.setdefault(str(change.learner_id), []).append(change.as_json())
        return {
            "standards": {
                "id": self.standards_id,
                "version": self.standards_version,
                "hash": self.standards_hash,
            },
            "applied": self.applied,
            "learners_considered": self.learners,
            "learners_changed": len(by_learner),
            "changes": by_learner,
            "totals": {
                "added": sum(1 for c in self.changes if c.change == "added"),
                "removed": sum(1 for c in self.changes if c.change == "removed"),
                "changed": sum(1 for c in self.changes if c.change == "changed"),
                "delta": f"{sum((c.delta for c in self.changes), ZERO):.2f}",
            },
        }


def _scaled_text(facts: StatementFacts) -> str | None:
    return None if facts.scaled is None else format(facts.scaled, "f")


def _bank_scope_allows(
    institution: Institution, unit_code: str | None, category: str | None
) -> bool:
    """The registry's accreditation scope (empty: everything)."""
    scope = institution.accreditation_scope or {}
    units = set(scope.get("units") or [])
    categories = set(scope.get("categories") or [])
    if not units and not categories:
        return True
    return (unit_code is not None and unit_code in units) or (
        category is not None and category in categories
    )


class RulesService:
    """Applies the standards in force to statements, and keeps outcomes in step."""

    # -- the learner's record -------------------------------------------------------

    async def learner_record(
        self, session: AsyncSession, learner_id: uuid.UUID, standards: StandardsSet
    ) -> LearnerRecord:
        """Units credited (active outcomes) and cap usage (active + expired) per year."""
        outcomes = await RulesRepository.from_session(session).outcomes_of(
            learner_id, statuses=[OutcomeStatus.ACTIVE.value, OutcomeStatus.EXPIRED.value]
        )
        return self._record_from(outcomes, standards)

    @staticmethod
    def _record_from(outcomes: Iterable[Outcome], standards: StandardsSet) -> LearnerRecord:
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

    # -- processing a stored statement -----------------------------------------------

    async def process_statement(
        self,
        session: AsyncSession,
        statement_id: uuid.UUID,
        *,
        actor: str,
        standards_set: str | None = None,
        now: datetime | None = None,
    ) -> Processed:
        """Recognise (or not) a stored statement, once; hold it if its actor is unlinked."""
        now = now or utc_now()
        repo = RulesRepository.from_session(session)
        stored = await get_statement_for_processing(session, statement_id)
        if stored is None:
            raise StatementMissing(f"no stored statement {statement_id}")
        if stored.is_voiding:
            return Processed("skipped", reason="voiding statements recognise nothing")
        actor_json = stored.body.get("actor") or {}
        ifi = agent_ifi(actor_json) if actor_json.get("objectType") != "Group" else None
        if ifi is None:
            if await repo.has_evaluation(statement_id, ["statement"]):
                return Processed("skipped", reason="already evaluated")
            row = await self._log_unprocessable(
                session,
                stored,
                learner_id=None,
                zh="不认定：陈述的执行者不是可识别的个人",
                en="not recognised: the actor is not an identified person",
            )
            return Processed("not_recognised", row.id, reason="actor without identifier")
        await repo.lock("ifi", ifi)
        learner = await identity_service.learner_for_ifi(session, ifi)
        if learner is None:
            if await repo.held(statement_id) is None:
                await repo.add(HeldStatement(statement_id=statement_id, actor_ifi=ifi, held_at=now))
                await self._preview_held(session, stored, standards_set=standards_set, now=now)
            return Processed("held", reason=f"actor {ifi} is linked to no learner yet")
        return await self._evaluate_for(
            session,
            stored,
            learner.id,
            actor=actor,
            standards_set=standards_set,
            now=now,
            was_held=False,
        )

    async def _preview_held(
        self,
        session: AsyncSession,
        stored: StatementForProcessing,
        *,
        standards_set: str | None,
        now: datetime,
    ) -> None:
        """Log what the statement would give a learner with an empty record (kind ``held``),
        so "why not (yet)" can be answered before the link; nothing is credited."""
        institution = (
            await identity_service.institution_by_id(session, stored.institution_id)
            if stored.institution_id is not None
            else None
        )
        if institution is None or institution.type not in ENGINE_TYPES:
            return
        try:
            published = await standards_service.in_force(session, now, set_id=standards_set)
            facts, notes = self._facts(stored.body, institution, published.standards)
        except (NoStandardsInForce, StatementFactsError, ValueError):
            return
        result = evaluate_statement(facts, LearnerRecord(), published.standards)
        detail = result.model_dump(mode="json")
        detail["notes"] = notes
        reason_zh, reason_en = result.reason.zh, result.reason.en
        if notes and not result.recognised:
            reason_zh += "（" + "；".join(n["zh"] for n in notes) + "）"
            reason_en += " (" + "; ".join(n["en"] for n in notes) + ")"
        ref = result.standards
        await RulesRepository.from_session(session).add(
            Evaluation(
                statement_id=stored.id,
                learner_id=None,
                institution_key=institution.key,
                kind="held",
                standards_id=ref.id,
                standards_version=ref.version,
                standards_hash=ref.hash,
                recognised=result.recognised,
                unit_code=result.unit_code,
                credited=ZERO,
                reason_zh=reason_zh,
                reason_en=reason_en,
                detail=detail,
                evaluated_at=now,
            )
        )

    async def _evaluate_for(
        self,
        session: AsyncSession,
        stored: StatementForProcessing,
        learner_id: uuid.UUID,
        *,
        actor: str,
        standards_set: str | None,
        now: datetime,
        was_held: bool = True,
    ) -> Processed:
        repo = RulesRepository.from_session(session)
        await repo.lock("learner", str(learner_id))
        # A concurrent run (an expired lease) may have finished while we waited.
        if await repo.has_evaluation(stored.id, ["statement"]):
            return Processed("skipped", reason="already evaluated")
        if was_held:
            await repo.release(stored.id)
        if stored.voided:
            row = await self._log_unprocessable(
                session,
                stored,
                learner_id=learner_id,
                zh="不认定：该陈述已被撤销（voided）",
                en="not recognised: the statement has been voided",
            )
            return Processed("not_recognised", row.id, reason="voided")
        institution = (
            await identity_service.institution_by_id(session, stored.institution_id)
            if stored.institution_id is not None
            else None
        )
        if institution is None:
            row = await self._log_unprocessable(
                session,
                stored,
                learner_id=learner_id,
                zh="不认定：陈述不是由已登记的机构发送的",
                en="not recognised: the statement was not sent by a registered institution",
            )
            return Processed("not_recognised", row.id, reason="no institution")
        if institution.type not in ENGINE_TYPES:
            row = await self._log_unprocessable(
                session,
                stored,
                learner_id=learner_id,
                institution_key=institution.key,
                zh=f"不认定：机构类型 {institution.type} 没有认定规则",
                en=f"not recognised: no recognition rules for institution type {institution.type}",
            )
            return Processed("not_recognised", row.id, reason="institution type")
        published = await standards_service.in_force(session, now, set_id=standards_set)
        facts, notes = self._facts(stored.body, institution, published.standards)
        record = await self.learner_record(session, learner_id, published.standards)
        result = evaluate_statement(facts, record, published.standards)
        evaluation, outcomes = await self._store(
            session,
            stored.id,
            learner_id,
            result,
            published,
            kind="statement",
            notes=notes,
            actor=actor,
            now=now,
        )
        return Processed(
            "recognised" if result.recognised else "not_recognised",
            evaluation.id,
            tuple(o.id for o in outcomes),
            reason=result.reason.en,
        )

    def _facts(
        self, body: dict[str, Any], institution: Institution, standards: StandardsSet
    ) -> tuple[StatementFacts, list[dict[str, str]]]:
        """The engine's facts: accreditation from the registry at the statement's time,
        narrowed by the registry's accreditation scope for the mapped unit."""
        probe = facts_from_statement(
            body,
            institution_key=institution.key,
            institution_type=institution.type,
            accredited=True,
        )
        notes: list[dict[str, str]] = []
        accredited = identity_service.is_accredited(institution, probe.timestamp)
        if not accredited:
            notes.append(
                {
                    "zh": f"机构 {institution.key} 在 {probe.timestamp.isoformat()} "
                    "未获学分银行认证",
                    "en": f"institution {institution.key} was not accredited by the bank at "
                    f"{probe.timestamp.isoformat()}",
                }
            )
        else:
            catalog = standards.institution(institution.key)
            mapping = (
                catalog.mapping_for(probe.activity_id)
                if catalog is not None and probe.activity_id is not None
                else None
            )
            unit = standards.unit(mapping.unit) if mapping is not None else None
            if unit is not None and not _bank_scope_allows(
                institution, unit.code, unit.category.value
            ):
                accredited = False
                notes.append(
                    {
                        "zh": f"学分银行对机构 {institution.key} 的认证范围不含单元 {unit.code}",
                        "en": f"the bank's accreditation scope of {institution.key} "
                        f"does not cover unit {unit.code}",
                    }
                )
        facts = probe.model_copy(update={"accredited": accredited})
        return facts, notes

    async def _log_unprocessable(
        self,
        session: AsyncSession,
        stored: StatementForProcessing,
        *,
        learner_id: uuid.UUID | None,
        zh: str,
        en: str,
        institution_key: str | None = None,
        kind: str = "statement",
    ) -> Evaluation:
        row = Evaluation(
            statement_id=stored.id,
            learner_id=learner_id,
            institution_key=institution_key,
            kind=kind,
            recognised=False,
            credited=ZERO,
            reason_zh=zh,
            reason_en=en,
            detail={"reason": {"zh": zh, "en": en}},
            evaluated_at=utc_now(),
        )
        await RulesRepository.from_session(session).add(row)
        return row

    async def _store(
        self,
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
            self._outcome(decision, result, evaluation, learner_id, statement_id, now)
            for decision in result.decisions
            if decision.credited > 0
        ]
        if outcomes:
            evaluation.outcome_id = outcomes[0].id
        await repo.add(evaluation, *outcomes)
        for outcome in outcomes:
            await self._deposit(session, outcome, actor=actor)
        return evaluation, outcomes

    @staticmethod
    def _outcome(
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

    @staticmethod
    async def _deposit(session: AsyncSession, outcome: Outcome, *, actor: str) -> None:
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

    # -- links, voiding, expiry ---------------------------------------------------------

    async def release_held(
        self,
        session: AsyncSession,
        ifi: str,
        *,
        actor: str,
        standards_set: str | None = None,
        now: datetime | None = None,
    ) -> list[Processed]:
        """Process the statements held for ``ifi`` now that it is linked (each once)."""
        now = now or utc_now()
        repo = RulesRepository.from_session(session)
        await repo.lock("ifi", ifi)
        learner = await identity_service.learner_for_ifi(session, ifi)
        if learner is None:
            return []
        results: list[Processed] = []
        for held in await repo.held_for(ifi):
            stored = await get_statement_for_processing(session, held.statement_id)
            if stored is None:
                await repo.release(held.statement_id)
                continue
            results.append(
                await self._evaluate_for(
                    session, stored, learner.id, actor=actor, standards_set=standards_set, now=now
                )
            )
        return results

    async def statement_voided(
        self,
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
            await self._revoke(session, outcome, reason=reason, actor=actor, now=now)
        await repo.add(
            Evaluation(
                statement_id=statement_id,
                learner_id=learner_id,
                institution_key=previous.institution_key if previous else None,
                kind="voided",
                recognised=False,
                credited=ZERO,
                reason_zh=f"已撤销：陈述被撤销（voiding 陈述 {voiding_statement_id}），"
                "成果随之撤销",
                reason_en=f"voided: the statement was voided (voiding statement "
                f"{voiding_statement_id}); its outcomes are revoked",
                detail={
                    "voiding_statement_id": str(voiding_statement_id)
                    if voiding_statement_id
                    else None,
                    "revoked_outcomes": [str(o.id) for o in outcomes],
                },
                evaluated_at=now,
            )
        )
        if learner_id is not None and outcomes:
            await self._recredit(
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
        self,
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
            record = await self.learner_record(session, learner_id, published.standards)
            result = evaluate_statement(facts, record, published.standards)
            _, created = await self._store(
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

    async def _revoke(
        self,
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

    async def expiry_sweep(
        self, session: AsyncSession, *, actor: str, now: datetime | None = None, limit: int = 500
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

    # -- reading and explaining ---------------------------------------------------------

    async def list_outcomes(
        self, session: AsyncSession, learner_id: uuid.UUID, *, status: str | None = None
    ) -> list[Outcome]:
        statuses = [status] if status else None
        return await RulesRepository.from_session(session).outcomes_of(
            learner_id, statuses=statuses
        )

    async def get_outcome(self, session: AsyncSession, outcome_id: uuid.UUID) -> Outcome:
        outcome = await RulesRepository.from_session(session).outcome(outcome_id)
        if outcome is None:
            raise NotFound(f"no outcome {outcome_id} / 成果不存在", code="outcome_not_found")
        return outcome

    async def explain_outcome(self, session: AsyncSession, outcome: Outcome) -> dict[str, Any]:
        """Why this outcome exists: statement(s), rule and version, standards, the trace."""
        evaluation = await RulesRepository.from_session(session).evaluation(outcome.evaluation_id)
        return {
            "outcome_id": str(outcome.id),
            "learner_id": str(outcome.learner_id),
            "status": outcome.status,
            "unit": {
                "code": outcome.unit_code,
                "title": {"zh": outcome.unit_title_zh, "en": outcome.unit_title_en},
                "category": outcome.category,
                "level": outcome.level,
                "credits": f"{outcome.unit_credits:.2f}",
            },
            "credited": f"{outcome.credits:.2f}",
            "statement_ids": list(outcome.statement_ids),
            "institution": outcome.institution_key,
            "rule": {"id": outcome.rule_id, "version": outcome.rule_version},
            "standards": {
                "id": outcome.standards_id,
                "version": outcome.standards_version,
                "hash": outcome.standards_hash,
            },
            "recognised_at": outcome.recognised_at.isoformat(),
            "expires_at": outcome.expires_at.isoformat() if outcome.expires_at else None,
            "revoked": (
                {"at": outcome.revoked_at.isoformat(), "reason": outcome.revoked_reason}
                if outcome.revoked_at
                else None
            ),
            "superseded_by": str(outcome.superseded_by) if outcome.superseded_by else None,
            "trace": outcome.trace,
            "evaluation": evaluation.detail if evaluation is not None else None,
        }

    async def explain_statement(
        self, session: AsyncSession, statement_id: uuid.UUID
    ) -> tuple[uuid.UUID | None, dict[str, Any]]:
        """Why a stored statement was (not) recognised: its evaluations, newest last.

        Returns the learner id (for authorization) and the explanation.
        """
        repo = RulesRepository.from_session(session)
        held = await repo.held(statement_id)
        outcomes = await repo.outcomes_of_statement(statement_id)
        rows = await repo.evaluations_of(statement_id)
        if not rows and held is None:
            stored = await get_statement_for_processing(session, statement_id)
            if stored is None:
                raise NotFound(
                    f"no statement {statement_id} / 陈述不存在", code="statement_not_found"
                )
            return None, {
                "statement_id": str(statement_id),
                "status": "pending",
                "reason": {
                    "zh": "尚未处理：陈述已存储，等待认定",
                    "en": "not processed yet: stored and waiting for recognition",
                },
                "outcomes": [],
                "evaluations": [],
            }
        learner_id = next((r.learner_id for r in reversed(rows) if r.learner_id), None)
        if held is not None:
            status = "held"
            reason = {
                "zh": "暂存：陈述的执行者尚未关联学分银行账户，关联后自动认定",
                "en": "held: the actor is not linked to a learner yet; it is processed "
                "when the link is made",
            }
            preview = next((r for r in reversed(rows) if r.kind == "held"), None)
            if preview is not None:
                reason = {
                    "zh": f"{reason['zh']}。预评估：{preview.reason_zh}",
                    "en": f"{reason['en']}. Preview: {preview.reason_en}",
                }
        else:
            last = rows[-1]
            status = (
                "voided"
                if last.kind == "voided"
                else ("recognised" if last.recognised else "not_recognised")
            )
            reason = {"zh": last.reason_zh, "en": last.reason_en}
        return learner_id, {
            "statement_id": str(statement_id),
            "status": status,
            "reason": reason,
            "outcomes": [
                {
                    "id": str(o.id),
                    "unit_code": o.unit_code,
                    "credits": f"{o.credits:.2f}",
                    "status": o.status,
                    "rule": {"id": o.rule_id, "version": o.rule_version},
                }
                for o in outcomes
            ],
            "evaluations": [
                {
                    "id": str(r.id),
                    "kind": r.kind,
                    "evaluated_at": r.evaluated_at.isoformat(),
                    "standards": (
                        {
                            "id": r.standards_id,
                            "version": r.standards_version,
                            "hash": r.standards_hash,
                        }
                        if r.standards_id
                        else None
                    ),
                    "recognised": r.recognised,
                    "unit_code": r.unit_code,
                    "credited": f"{r.credited:.2f}",
                    "reason": {"zh": r.reason_zh, "en": r.reason_en},
                    "detail": r.detail,
                }
                for r in rows
            ],
        }

    # -- dry runs -------------------------------------------------------------------

    async def dry_run(
        self,
        session: AsyncSession,
        statement: dict[str, Any],
        *,
        institution_key: str,
        version: str | None = None,
        set_id: str | None = None,
        learner_id: uuid.UUID | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Evaluate a posted statement against a version (default: in force); store nothing."""
        now = now or utc_now()
        institution = await identity_service.find_institution(session, institution_key)
        if institution is None:
            raise NotFound(
                f"no institution {institution_key} / 机构不存在", code="institution_not_found"
            )
        if institution.type not in ENGINE_TYPES:
            raise BadRequest(
                f"no recognition rules for institution type {institution.type}",
                code="institution_type_without_rules",
            )
        published = (
            await standards_service.find(session, version, set_id=set_id)
            if version is not None
            else await standards_service.in_force(session, now, set_id=set_id)
        )
        body = dict(statement)
        body.setdefault("timestamp", now.isoformat())
        try:
            facts, notes = self._facts(body, institution, published.standards)
        except (StatementFactsError, ValueError) as exc:
            raise BadRequest(
                f"cannot evaluate this statement: {exc}", code="invalid_statement"
            ) from exc
        record = (
            await self.learner_record(session, learner_id, published.standards)
            if learner_id is not None
            else LearnerRecord()
        )
        result = evaluate_statement(facts, record, published.standards)
        detail = result.model_dump(mode="json")
        detail["notes"] = notes
        detail["stored"] = False
        return detail

    # -- a new standards version -------------------------------------------------------

    async def reevaluate(
        self,
        session: AsyncSession,
        published: Published,
        *,
        apply: bool,
        actor: str,
        now: datetime | None = None,
    ) -> ReevaluationReport:
        """What ``published`` would change for every learner; with ``apply``, change it.

        Each learner's statements are replayed in their original order under the new
        version (from the facts logged when they were first evaluated), and the
        result is compared unit by unit with her active outcomes. Applying revokes
        (reverses) what no longer holds and deposits what is new or different, as
        new outcomes; the old ones stay, marked superseded. Nothing is rewritten.
        """
        now = now or utc_now()
        repo = RulesRepository.from_session(session)
        standards = published.standards
        report = ReevaluationReport(
            standards_id=standards.meta.id,
            standards_version=standards.meta.version,
            standards_hash=standards.content_hash,
            applied=apply,
        )
        for learner_id in await repo.learners_with_evaluations():
            report.learners += 1
            if apply:
                await repo.lock("learner", str(learner_id))
            changes, replayed = await self._replay(session, learner_id, standards)
            report.changes.extend(changes)
            if apply and changes:
                await self._apply_changes(
                    session, learner_id, changes, replayed, published, actor=actor, now=now
                )
        return report

    async def _replay(
        self, session: AsyncSession, learner_id: uuid.UUID, standards: StandardsSet
    ) -> tuple[list[Change], dict[str, tuple[uuid.UUID, EngineEvaluation]]]:
        repo = RulesRepository.from_session(session)
        outcomes = await repo.outcomes_of(learner_id)
        active = {o.unit_code: o for o in outcomes if o.status == OutcomeStatus.ACTIVE.value}
        expired = [o for o in outcomes if o.status == OutcomeStatus.EXPIRED.value]
        finished = {o.statement_id for o in expired}
        record = self._record_from(expired, standards)
        new: dict[str, tuple[uuid.UUID, EngineEvaluation]] = {}
        for statement_id in await repo.statements_of_learner(learner_id):
            if statement_id in finished:
                continue
            latest = await repo.latest_evaluation(statement_id)
            if latest is None or latest.kind == "voided" or "facts" not in latest.detail:
                continue
            facts = StatementFacts.model_validate(latest.detail["facts"])
            result = evaluate_statement(facts, record, standards)
            for decision in result.decisions:
                if decision.credited > 0 and decision.unit_code not in new:
                    new[decision.unit_code] = (statement_id, result)
            record = result.record_after(record)
        changes: list[Change] = []
        for unit_code in sorted(set(active) | set(new)):
            old = active.get(unit_code)
            found = new.get(unit_code)
            chosen = (
                next(d for d in found[1].decisions if d.unit_code == unit_code) if found else None
            )
            old_credits = old.credits if old else ZERO
            new_credits = chosen.credited if chosen else ZERO
            old_rule = f"{old.rule_id} v{old.rule_version}" if old else None
            new_rule = f"{chosen.rule_id} v{chosen.rule_version}" if chosen else None
            if old is not None and chosen is not None and old_credits == new_credits:
                continue
            kind = "added" if old is None else ("removed" if chosen is None else "changed")
            changes.append(
                Change(
                    learner_id=learner_id,
                    unit_code=unit_code,
                    change=kind,
                    old_outcome_id=old.id if old else None,
                    old_credits=old_credits,
                    new_credits=new_credits,
                    old_rule=old_rule,
                    new_rule=new_rule,
                    statement_id=found[0] if found else (old.statement_id if old else None),
                )
            )
        return changes, new

    async def _apply_changes(
        self,
        session: AsyncSession,
        learner_id: uuid.UUID,
        changes: list[Change],
        replayed: dict[str, tuple[uuid.UUID, EngineEvaluation]],
        published: Published,
        *,
        actor: str,
        now: datetime,
    ) -> None:
        repo = RulesRepository.from_session(session)
        version = published.standards.meta.version
        for change in changes:
            old = await repo.outcome(change.old_outcome_id) if change.old_outcome_id else None
            if old is not None:
                await self._revoke(
                    session,
                    old,
                    reason=f"standards {published.standards.meta.id} {version} applied: "
                    f"{change.change} / 新标准版本生效",
                    actor=actor,
                    now=now,
                    status=OutcomeStatus.SUPERSEDED,
                )
            found = replayed.get(change.unit_code)
            if found is None:
                continue
            statement_id, result = found
            only = result.model_copy(
                update={
                    "decisions": tuple(
                        d for d in result.decisions if d.unit_code == change.unit_code
                    )
                }
            )
            _, created = await self._store(
                session,
                statement_id,
                learner_id,
                only,
                published,
                kind="reevaluation",
                actor=actor,
                now=now,
            )
            if old is not None and created:
                old.superseded_by = created[0].id
                await session.flush()

    # -- a caller's view: authorized here, through identity.authz -----------------------

    async def outcomes_for(
        self,
        session: AsyncSession,
        principal: Principal,
        learner_id: uuid.UUID,
        *,
        status: str | None = None,
    ) -> list[Outcome]:
        """A learner's outcomes, for her or the operator."""
        authz.require_learner_access(principal, learner_id)
        return await self.list_outcomes(session, learner_id, status=status)

    async def read_outcome(
        self, session: AsyncSession, principal: Principal, outcome_id: uuid.UUID
    ) -> Outcome:
        """One outcome, for its learner or the operator."""
        outcome = await self.get_outcome(session, outcome_id)
        authz.require_learner_access(principal, outcome.learner_id)
        return outcome

    async def explain_outcome_for(
        self, session: AsyncSession, principal: Principal, outcome_id: uuid.UUID
    ) -> dict[str, Any]:
        """Why this outcome exists, for its learner or the operator."""
        return await self.explain_outcome(
            session, await self.read_outcome(session, principal, outcome_id)
        )

    async def explain_ledger_entry(
        self, session: AsyncSession, principal: Principal, entry_id: uuid.UUID
    ) -> dict[str, Any]:
        """From a ledger entry back to its outcome(s), rule versions and statements."""
        entry = await ledger_service.entry(session, entry_id)
        if entry is None:
            raise NotFound("no such ledger entry / 账目不存在", code="ledger_entry_not_found")
        authz.require_learner_access(principal, entry.learner_id)
        outcome_ids = [uuid.UUID(leg["outcome_id"]) for leg in entry.legs if leg.get("outcome_id")]
        if entry.outcome_id is not None and entry.outcome_id not in outcome_ids:
            outcome_ids.insert(0, entry.outcome_id)
        outcomes = []
        for outcome_id in outcome_ids:
            try:
                outcome = await self.get_outcome(session, outcome_id)
            except NotFound:
                continue
            outcomes.append(await self.explain_outcome(session, outcome))
        return {
            "entry": {
                "id": str(entry.id),
                "learner_id": str(entry.learner_id),
                "seq": entry.seq,
                "kind": entry.kind,
                "amount": f"{entry.amount:.2f}",
                "unit_code": entry.unit_code,
                "rule": {"id": entry.rule_id, "version": entry.rule_version},
                "standards_version": entry.standards_version,
                "statement_ids": list(entry.statement_ids),
                "reason": entry.reason,
                "posted_at": entry.posted_at.isoformat(),
            },
            "outcomes": outcomes,
        }

    async def explain_statement_for(
        self, session: AsyncSession, principal: Principal, statement_id: uuid.UUID
    ) -> dict[str, Any]:
        """Why a stored statement was (not) recognised: for its learner, else the operator."""
        learner_id, explanation = await self.explain_statement(session, statement_id)
        authz.authorize(principal, "statement.explain", authz.Resource(learner_id=learner_id))
        return explanation

    async def dry_run_for(
        self,
        session: AsyncSession,
        principal: Principal,
        statement: dict[str, Any],
        *,
        institution_key: str | None = None,
        version: str | None = None,
        set_id: str | None = None,
        learner_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """A dry run for the caller: the sender defaults to the calling institution's
        credential; against a learner's record only for her or the operator."""
        authz.authorize(principal, "rules.dry_run")
        institution_key = institution_key or principal.institution_key
        if institution_key is None:
            raise BadRequest("name the sending institution", code="institution_required")
        if learner_id is not None:
            authz.require_learner_access(principal, learner_id)
        return await self.dry_run(
            session,
            statement,
            institution_key=institution_key,
            version=version,
            set_id=set_id,
            learner_id=learner_id,
        )

    async def reevaluate_version(
        self,
        session: AsyncSession,
        principal: Principal,
        set_id: str,
        version: str,
        *,
        apply: bool,
    ) -> dict[str, Any]:
        """What a published version changes for which learners; with ``apply``, change it
        (the operator)."""
        authz.authorize(principal, "standards.reevaluate")
        published = await standards_service.get_version(session, set_id, version)
        report = await self.reevaluate(
            session, published, apply=apply, actor=actor_label(principal)
        )
        return report.as_json()


rules = RulesService()
