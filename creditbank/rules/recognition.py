"""Recognition (认定) applied: a stored statement in, an evaluation (and outcomes) out.

The pure engine (:mod:`creditbank.rules.engine`) decides; this module gathers its
input (the statement, the sender's accreditation, the learner's record, the
standards in force) and hands the decision to :mod:`creditbank.rules.outcomes` to
store and deposit. Statements of actors not yet linked to a learner are held (with
a preview of what they would give) and processed when the link is made.

Work on one actor and one learner is serialised (advisory locks on PostgreSQL,
one writer on SQLite), so concurrent workers never credit from a stale record.
Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import NotFound
from creditbank.identity.service import Institution
from creditbank.identity.service import identity as identity_service
from creditbank.kit import events
from creditbank.kit.credits import ZERO
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.lrs.service import (
    StatementForProcessing,
    get_statement_for_processing,
    get_statements_for_processing,
)
from creditbank.lrs.xapi.ifi import agent_ifi
from creditbank.rules.accumulation import LearnerRecord
from creditbank.rules.ast import InstitutionType
from creditbank.rules.engine import evaluate_statement, evaluation_json
from creditbank.rules.facts import StatementFacts, StatementFactsError, facts_from_statement
from creditbank.rules.models import Evaluation, HeldStatement, Outcome, OutcomeStatus
from creditbank.rules.outcomes import (
    Counted,
    Rows,
    ToStore,
    build_rows,
    learner_record,
    record_from,
    store_evaluation,
    store_rows,
)
from creditbank.rules.repository import RulesRepository
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import NoStandardsInForce
from creditbank.standards.service import standards as standards_service

ENGINE_TYPES = frozenset(t.value for t in InstitutionType)


class StatementMissing(NotFound):
    """The job names a statement the store does not have."""

    code = "statement_not_found"


@dataclass(frozen=True)
class Processed:
    """What came of processing one statement."""

    status: str  # recognised | not_recognised | held | skipped | deferred (batch only)
    evaluation_id: uuid.UUID | None = None
    outcome_ids: tuple[uuid.UUID, ...] = ()
    reason: str = ""


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


async def process_statement(
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
        row = await log_unprocessable(
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
            await _preview_held(session, stored, standards_set=standards_set, now=now)
            await events.emit(
                session,
                [
                    events.Event(
                        type=events.STATEMENT_HELD,
                        id=f"{events.STATEMENT_HELD}:{statement_id}",
                        institution_id=stored.institution_id,
                        statement_id=statement_id,
                        data={
                            "statement_id": str(statement_id),
                            "reason": "the actor is linked to no learner yet",
                            "held_at": isoformat_z(now),
                        },
                    )
                ],
            )
        return Processed("held", reason=f"actor {ifi} is linked to no learner yet")
    return await evaluate_for(
        session,
        stored,
        learner.id,
        actor=actor,
        standards_set=standards_set,
        now=now,
        was_held=False,
    )


async def process_statements(
    session: AsyncSession,
    statement_ids: Sequence[uuid.UUID],
    *,
    actor: str,
    standards_set: str | None = None,
    now: datetime | None = None,
    defer_busy: bool = False,
) -> list[Processed]:
    """Batch :func:`process_statement`, same results in the same order, in few queries.

    The common case (a linked learner, a registered institution with rules) is
    read, locked and written for the whole batch at once: the statements, links
    and institutions in one query each, every actor's and learner's lock in one
    round trip each (in key order), the learners' records in one query, then the
    evaluation-log rows, outcomes and ledger deposits as multi-row INSERTs. Each
    learner's statements are evaluated in the order given, each against her
    record after the ones before, exactly as one by one. The rest (held, voided,
    unregistered senders, actors without an identifier) go the one-by-one way.

    With ``defer_busy``, the statements of actors or learners whose lock another
    worker holds are not waited for: they come back ``deferred`` (nothing written)
    for the caller to run in a later transaction, so two workers never queue behind
    each other's batches.
    """
    now = now or utc_now()
    repo = RulesRepository.from_session(session)
    found = await get_statements_for_processing(session, statement_ids)
    missing = [s for s in statement_ids if s not in found]
    if missing:
        raise StatementMissing(f"no stored statement {missing[0]}")
    results: dict[int, Processed] = {}
    ifis: dict[int, str] = {}
    seen: set[uuid.UUID] = set()
    for index, statement_id in enumerate(statement_ids):
        stored = found[statement_id]
        if stored.is_voiding:
            results[index] = Processed("skipped", reason="voiding statements recognise nothing")
            continue
        if statement_id in seen:
            results[index] = Processed("skipped", reason="already evaluated")
            continue
        seen.add(statement_id)
        actor_json = stored.body.get("actor") or {}
        ifi = agent_ifi(actor_json) if actor_json.get("objectType") != "Group" else None
        if ifi is not None:
            ifis[index] = ifi
    if defer_busy:
        free = await repo.try_lock_many("ifi", list(ifis.values()))
        learners = await identity_service.learner_ids_for_ifis(session, sorted(set(ifis.values())))
        taken = await repo.try_lock_many(
            "learner", [str(learners[ifi]) for ifi in free if ifi in learners]
        )
        # A learner is done here only with all her statements of the batch, in order.
        busy = {learners[ifi] for ifi in ifis.values() if ifi not in free and ifi in learners}
        busy |= {learner for learner in learners.values() if str(learner) not in taken}
        for index in list(ifis):
            ifi = ifis[index]
            if ifi not in free or learners.get(ifi) in busy:
                results[index] = Processed("deferred", reason="another worker holds the learner")
                del ifis[index]
    else:
        await repo.lock_many("ifi", list(ifis.values()))
        learners = await identity_service.learner_ids_for_ifis(session, sorted(set(ifis.values())))
        await repo.lock_many("learner", [str(learner) for learner in learners.values()])
    done = await repo.evaluated(
        [statement_ids[i] for i in ifis if ifis[i] in learners], ["statement"]
    )
    institution_ids = {s.institution_id for s in found.values() if s.institution_id is not None}
    institutions = await identity_service.institutions_by_ids(session, sorted(institution_ids))
    batch: list[tuple[int, StatementForProcessing, uuid.UUID, Institution]] = []
    for index, statement_id in enumerate(statement_ids):
        if index in results:
            continue
        stored = found[statement_id]
        learner_id = learners.get(ifis.get(index, ""))
        institution = (
            institutions.get(stored.institution_id) if stored.institution_id is not None else None
        )
        if learner_id is not None and statement_id in done:
            results[index] = Processed("skipped", reason="already evaluated")
        elif (
            learner_id is None
            or stored.voided
            or institution is None
            or institution.type not in ENGINE_TYPES
        ):
            # Held, voided, unregistered: nothing credited, so order does not matter.
            results[index] = await process_statement(
                session, statement_id, actor=actor, standards_set=standards_set, now=now
            )
        else:
            batch.append((index, stored, learner_id, institution))
    if batch:
        published = await standards_service.in_force(session, now, set_id=standards_set)
        standards = published.standards
        outcomes = await repo.outcomes_of_learners(
            sorted({learner for _, _, learner, _ in batch}),
            statuses=[OutcomeStatus.ACTIVE.value, OutcomeStatus.EXPIRED.value],
        )
        counted: dict[uuid.UUID, list[Outcome | Counted]] = {
            learner: list(rows) for learner, rows in outcomes.items()
        }
        records = {learner: record_from(rows, standards) for learner, rows in counted.items()}
        built: list[tuple[int, ToStore, Rows]] = []
        for index, stored, learner_id, institution in batch:
            facts, notes = statement_facts(stored.body, institution, standards)
            result = evaluate_statement(facts, records[learner_id], standards)
            item = ToStore(stored.id, learner_id, result, "statement", notes)
            rows = build_rows(item, now)
            if rows.outcomes:
                # Her record for the next statement, as one by one would read it back.
                counted[learner_id].extend(rows.counted())
                records[learner_id] = record_from(counted[learner_id], standards)
            built.append((index, item, rows))
        await store_rows(session, [rows for _, _, rows in built], actor=actor)
        await events.emit(
            session,
            [
                recognised_event(item.statement_id, institution.id, item, rows.evaluation_id)
                for (_, _, _, institution), (_, item, rows) in zip(batch, built, strict=True)
                if item.result.recognised
            ],
        )
        for index, item, rows in built:
            results[index] = Processed(
                "recognised" if item.result.recognised else "not_recognised",
                rows.evaluation_id,
                rows.outcome_ids,
                reason=item.result.reason.en,
            )
    return [results[index] for index in range(len(statement_ids))]


async def _preview_held(
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
        facts, notes = statement_facts(stored.body, institution, published.standards)
    except (NoStandardsInForce, StatementFactsError, ValueError):
        return
    result = evaluate_statement(facts, LearnerRecord(), published.standards)
    detail = evaluation_json(result)
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


async def evaluate_for(
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
        row = await log_unprocessable(
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
        row = await log_unprocessable(
            session,
            stored,
            learner_id=learner_id,
            zh="不认定：陈述不是由已登记的机构发送的",
            en="not recognised: the statement was not sent by a registered institution",
        )
        return Processed("not_recognised", row.id, reason="no institution")
    if institution.type not in ENGINE_TYPES:
        row = await log_unprocessable(
            session,
            stored,
            learner_id=learner_id,
            institution_key=institution.key,
            zh=f"不认定：机构类型 {institution.type} 没有认定规则",
            en=f"not recognised: no recognition rules for institution type {institution.type}",
        )
        return Processed("not_recognised", row.id, reason="institution type")
    published = await standards_service.in_force(session, now, set_id=standards_set)
    facts, notes = statement_facts(stored.body, institution, published.standards)
    record = await learner_record(session, learner_id, published.standards)
    result = evaluate_statement(facts, record, published.standards)
    evaluation, outcomes = await store_evaluation(
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
    if result.recognised:
        item = ToStore(stored.id, learner_id, result, "statement", notes)
        await events.emit(
            session,
            [
                recognised_event(
                    stored.id, institution.id, item, evaluation.id, [o.id for o in outcomes]
                )
            ],
        )
    return Processed(
        "recognised" if result.recognised else "not_recognised",
        evaluation.id,
        tuple(o.id for o in outcomes),
        reason=result.reason.en,
    )


def recognised_event(
    statement_id: uuid.UUID,
    institution_id: uuid.UUID,
    item: ToStore,
    evaluation_id: uuid.UUID | None,
    outcome_ids: Sequence[uuid.UUID] | None = None,
) -> events.Event:
    """``statement.recognised`` for the sending institution (ids, unit and credits only)."""
    result = item.result
    return events.Event(
        type=events.STATEMENT_RECOGNISED,
        id=f"{events.STATEMENT_RECOGNISED}:{statement_id}",
        institution_id=institution_id,
        statement_id=statement_id,
        data={
            "statement_id": str(statement_id),
            "learner_id": str(item.learner_id),
            "evaluation_id": str(evaluation_id) if evaluation_id else None,
            "outcome_ids": [str(o) for o in outcome_ids or ()],
            "unit_code": result.unit_code,
            "decisions": [
                {
                    "unit_code": d.unit_code,
                    "rule_id": d.rule_id,
                    "rule_version": d.rule_version,
                    "credits": str(d.credits),
                    "credited": str(d.credited),
                    "requires_review": d.requires_review,
                }
                for d in result.decisions
            ],
            "standards": result.standards.model_dump(mode="json"),
            "reason": {"zh": result.reason.zh, "en": result.reason.en},
        },
    )


def statement_facts(
    body: dict[str, Any], institution: Institution, standards: StandardsSet
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
                "zh": f"机构 {institution.key} 在 {probe.timestamp.isoformat()} 未获学分银行认证",
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
        if unit is not None and not _bank_scope_allows(institution, unit.code, unit.category.value):
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


async def log_unprocessable(
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


async def release_held(
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
            await evaluate_for(
                session, stored, learner.id, actor=actor, standards_set=standards_set, now=now
            )
        )
    return results
