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

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import NotFound
from creditbank.identity.service import Institution
from creditbank.identity.service import identity as identity_service
from creditbank.kit import events
from creditbank.kit.credits import ZERO
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.lrs.service import (
    StatementForProcessing,
    get_statements_for_processing,
)
from creditbank.lrs.xapi.ifi import agent_ifi
from creditbank.rules.accumulation import LearnerRecord
from creditbank.rules.ast import InstitutionType
from creditbank.rules.engine import evaluate_statement, evaluation_bytes, evaluation_fields
from creditbank.rules.facts import StatementFacts, StatementFactsError, facts_from_statement
from creditbank.rules.outcomes import (
    Rows,
    ToStore,
    build_rows,
    counted_of_learners,
    record_from,
    store_rows,
)
from creditbank.rules.repository import RulesRepository
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import NoStandardsInForce, Published
from creditbank.standards.service import standards as standards_service

ENGINE_TYPES = frozenset(t.value for t in InstitutionType)


class StatementMissing(NotFound):
    """The job names a statement the store does not have."""

    code = "statement_not_found"


@dataclass(frozen=True)
class Processed:
    """What came of processing one statement."""

    status: str  # recognised | not_recognised | held | skipped | deferred (defer_busy only)
    evaluation_id: uuid.UUID | None = None
    outcome_ids: tuple[uuid.UUID, ...] = ()
    reason: str = ""


def _bank_scope_allows(
    institution: Institution, unit_code: str | None, category: str | None
) -> bool:
    """The registry's accreditation scope (empty: everything)."""
    scope = institution.accreditation_scope or {}
    units = scope.get("units") or ()
    categories = scope.get("categories") or ()
    if not units and not categories:
        return True
    # Asked per statement: a list is searched as it is (the same answer as its set).
    return (unit_code is not None and unit_code in _as_set(units)) or (
        category is not None and category in _as_set(categories)
    )


def _as_set(values: Any) -> Any:
    return values if type(values) is list else set(values)


async def process_statement(
    session: AsyncSession,
    statement_id: uuid.UUID,
    *,
    actor: str,
    standards_set: str | None = None,
    now: datetime | None = None,
) -> Processed:
    """Recognise (or not) a stored statement, once; hold it if its actor is unlinked.

    A batch of one (:func:`process_statements`, waiting for the locks), so one
    statement is decided by the same code however it arrives.
    """
    (processed,) = await process_statements(
        session, [statement_id], actor=actor, standards_set=standards_set, now=now
    )
    return processed


async def process_statements(
    session: AsyncSession,
    statement_ids: Sequence[uuid.UUID],
    *,
    actor: str,
    standards_set: str | None = None,
    now: datetime | None = None,
    defer_busy: bool = False,
) -> list[Processed]:
    """Recognise (or not) stored statements, each once, in the order given; hold those
    of unlinked actors. The results are in the same order; the work is in few queries.

    The common case (a linked learner, a registered institution with rules) is
    read, locked and written for the whole batch at once: the statements, links
    and institutions in one query each, every actor's and learner's lock in one
    round trip each (in key order), the learners' records in one query, then the
    evaluation-log rows, outcomes and ledger deposits as multi-row INSERTs. Each
    learner's statements are evaluated in the order given, each against her
    record after the ones before, exactly as one by one. The rest credit nothing
    (held, voided, unregistered senders, actors without an identifier): their rows
    are written with one INSERT per table for the batch (held statements, their
    preview evaluations against the standards read once, events).

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
    # Held (an unlinked actor) is looked up for the unlinked, the evaluation log for the
    # rest (linked, or an actor without an identifier).
    unlinked = {i for i in ifis if ifis[i] not in learners}
    done = await repo.evaluated(
        [s for i, s in enumerate(statement_ids) if i not in results and i not in unlinked],
        ["statement"],
    )
    held_already = await repo.held_among([statement_ids[i] for i in unlinked])
    institution_ids = {s.institution_id for s in found.values() if s.institution_id is not None}
    institutions = await identity_service.institutions_by_ids(session, sorted(institution_ids))
    standards_in_force = _InForce(session, now, standards_set)
    aside = _NothingCredited(now)
    batch: list[tuple[int, StatementForProcessing, uuid.UUID, Institution]] = []
    for index, statement_id in enumerate(statement_ids):
        if index in results:
            continue
        stored = found[statement_id]
        ifi = ifis.get(index)
        learner_id = learners.get(ifi) if ifi is not None else None
        institution = (
            institutions.get(stored.institution_id) if stored.institution_id is not None else None
        )
        if ifi is not None and learner_id is None:
            # Held: nothing credited, so order does not matter (one write per kind below).
            if statement_id not in held_already:
                await aside.hold(stored, ifi, institution, standards_in_force)
            results[index] = Processed("held", reason=f"actor {ifi} is linked to no learner yet")
        elif statement_id in done:
            results[index] = Processed("skipped", reason="already evaluated")
        elif learner_id is None:
            results[index] = aside.unprocessable(
                stored,
                learner_id=None,
                zh="不认定：陈述的执行者不是可识别的个人",
                en="not recognised: the actor is not an identified person",
                reason="actor without identifier",
            )
        elif stored.voided or institution is None or institution.type not in ENGINE_TYPES:
            results[index] = aside.not_evaluable(stored, learner_id, institution)
        else:
            batch.append((index, stored, learner_id, institution))
    await aside.store(session)
    if batch:
        published = await standards_in_force.get()
        standards = published.standards
        counted = await counted_of_learners(
            session, sorted({learner for _, _, learner, _ in batch})
        )
        records = {learner: record_from(rows, standards) for learner, rows in counted.items()}
        built: list[tuple[int, ToStore, Rows]] = []
        for index, stored, learner_id, institution in batch:
            facts, notes = statement_facts(stored.body, institution, standards)
            result = evaluate_statement(facts, records[learner_id], standards)
            item = ToStore(stored.id, learner_id, result, "statement", notes)
            rows = build_rows(item, now, serialised=True)
            if rows.outcomes:
                # Her record for the next statement, as one by one would read it back
                # (record_from is a fold: adding the new outcomes to it is the same).
                records[learner_id] = record_from(
                    rows.counted(), standards, start=records[learner_id]
                )
            built.append((index, item, rows))
        await store_rows(session, [rows for _, _, rows in built], actor=actor)
        await events.emit(
            session,
            [
                recognised_event(
                    item.statement_id, institution.id, item, rows.evaluation_id, rows.outcome_ids
                )
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


class _InForce:
    """The standards in force for a batch, read once, when first needed."""

    def __init__(self, session: AsyncSession, now: datetime, set_id: str | None) -> None:
        self.session, self.now, self.set_id = session, now, set_id
        self._published: Published | None = None
        self._missing: NoStandardsInForce | None = None

    async def get(self) -> Published:
        if self._missing is not None:
            raise self._missing
        if self._published is None:
            try:
                self._published = await standards_service.in_force(
                    self.session, self.now, set_id=self.set_id
                )
            except NoStandardsInForce as exc:
                self._missing = exc
                raise
        return self._published


def _unprocessable_row(
    stored: StatementForProcessing,
    *,
    learner_id: uuid.UUID | None,
    zh: str,
    en: str,
    now: datetime,
    institution_key: str | None = None,
) -> dict[str, Any]:
    """The evaluation-log row of a statement that recognises nothing (every column)."""
    return {
        "id": uuid.uuid4(),
        "statement_id": stored.id,
        "learner_id": learner_id,
        "institution_key": institution_key,
        "kind": "statement",
        "standards_id": None,
        "standards_version": None,
        "standards_hash": None,
        "recognised": False,
        "unit_code": None,
        "credited": ZERO,
        "reason_zh": zh,
        "reason_en": en,
        "outcome_id": None,
        "detail": {"reason": {"zh": zh, "en": en}},
        "evaluated_at": now,
    }


def _preview_row(
    stored: StatementForProcessing,
    institution: Institution,
    published: Published,
    now: datetime,
) -> dict[str, Any] | None:
    """What the statement would give a learner with an empty record (kind ``held``),
    so "why not (yet)" can be answered before the link; nothing is credited. None when
    the statement's facts cannot be read."""
    try:
        facts, notes = statement_facts(stored.body, institution, published.standards)
    except (StatementFactsError, ValueError):
        return None
    result = evaluate_statement(facts, LearnerRecord(), published.standards)
    reason_zh, reason_en = result.reason.zh, result.reason.en
    if notes and not result.recognised:
        reason_zh += "（" + "；".join(n["zh"] for n in notes) + "）"
        reason_en += " (" + "; ".join(n["en"] for n in notes) + ")"
    ref = result.standards
    return {
        "id": uuid.uuid4(),
        "statement_id": stored.id,
        "learner_id": None,
        "institution_key": institution.key,
        "kind": "held",
        "standards_id": ref.id,
        "standards_version": ref.version,
        "standards_hash": ref.hash,
        "recognised": result.recognised,
        "unit_code": result.unit_code,
        "credited": ZERO,
        "reason_zh": reason_zh,
        "reason_en": reason_en,
        "outcome_id": None,
        "detail": orjson.Fragment(evaluation_bytes({**evaluation_fields(result), "notes": notes})),
        "evaluated_at": now,
    }


def _held_event(stored: StatementForProcessing, now: datetime) -> events.Event:
    return events.Event(
        type=events.STATEMENT_HELD,
        id=f"{events.STATEMENT_HELD}:{stored.id}",
        institution_id=stored.institution_id,
        statement_id=stored.id,
        data={
            "statement_id": str(stored.id),
            "reason": "the actor is linked to no learner yet",
            "held_at": isoformat_z(now),
        },
    )


class _NothingCredited:
    """A batch's statements that credit nothing (held, voided, unregistered senders,
    actors without an identifier): their rows, written with one INSERT per table."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.held: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.events: list[events.Event] = []

    async def hold(
        self,
        stored: StatementForProcessing,
        ifi: str,
        institution: Institution | None,
        in_force: _InForce,
    ) -> None:
        self.held.append({"statement_id": stored.id, "actor_ifi": ifi, "held_at": self.now})
        if institution is not None and institution.type in ENGINE_TYPES:
            try:
                published = await in_force.get()
            except NoStandardsInForce:
                published = None
            row = _preview_row(stored, institution, published, self.now) if published else None
            if row is not None:
                self.evaluations.append(row)
        self.events.append(_held_event(stored, self.now))

    def unprocessable(
        self,
        stored: StatementForProcessing,
        *,
        learner_id: uuid.UUID | None,
        zh: str,
        en: str,
        reason: str,
        institution_key: str | None = None,
    ) -> Processed:
        row = _unprocessable_row(
            stored,
            learner_id=learner_id,
            zh=zh,
            en=en,
            now=self.now,
            institution_key=institution_key,
        )
        self.evaluations.append(row)
        return Processed("not_recognised", row["id"], reason=reason)

    def not_evaluable(
        self,
        stored: StatementForProcessing,
        learner_id: uuid.UUID,
        institution: Institution | None,
    ) -> Processed:
        """A linked learner's statement the engine does not see: voided, from no
        registered institution, or from one of a type the standards have no rules for."""
        if stored.voided:
            return self.unprocessable(
                stored,
                learner_id=learner_id,
                zh="不认定：该陈述已被撤销（voided）",
                en="not recognised: the statement has been voided",
                reason="voided",
            )
        if institution is None:
            return self.unprocessable(
                stored,
                learner_id=learner_id,
                zh="不认定：陈述不是由已登记的机构发送的",
                en="not recognised: the statement was not sent by a registered institution",
                reason="no institution",
            )
        return self.unprocessable(
            stored,
            learner_id=learner_id,
            institution_key=institution.key,
            zh=f"不认定：机构类型 {institution.type} 没有认定规则",
            en=f"not recognised: no recognition rules for institution type {institution.type}",
            reason="institution type",
        )

    async def store(self, session: AsyncSession) -> None:
        repo = RulesRepository.from_session(session)
        await repo.insert_held(self.held)
        await repo.insert_rows(self.evaluations, [])
        await events.emit(session, self.events)


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
    # The probe is frozen: kept as it is when still accredited (the common case).
    facts = probe if accredited else probe.model_copy(update={"accredited": accredited})
    return facts, notes


async def release_held(
    session: AsyncSession,
    ifi: str,
    *,
    actor: str,
    standards_set: str | None = None,
    now: datetime | None = None,
) -> list[Processed]:
    """Process the statements held for ``ifi`` now that it is linked (each once), in
    the order they were held, as one batch (:func:`process_statements`)."""
    now = now or utc_now()
    repo = RulesRepository.from_session(session)
    await repo.lock("ifi", ifi)
    learner = await identity_service.learner_for_ifi(session, ifi)
    if learner is None:
        return []
    held = [row.statement_id for row in await repo.held_for(ifi)]
    if not held:
        return []
    present = await get_statements_for_processing(session, held)
    # Released all at once: each is evaluated below (or was already, by a run whose
    # lease ran out), so none is held any longer.
    await repo.release_many(held)
    return await process_statements(
        session,
        [statement_id for statement_id in held if statement_id in present],
        actor=actor,
        standards_set=standards_set,
        now=now,
    )
