"""Re-evaluation: what a new standards version changes for every learner (a dry-run
report), and applying it with compensating entries (old outcomes superseded and
reversed, new ones deposited; nothing rewritten). Never commits.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.kit.credits import ZERO
from creditbank.kit.time import utc_now
from creditbank.rules.engine import Evaluation as EngineEvaluation
from creditbank.rules.engine import evaluate_statement
from creditbank.rules.facts import StatementFacts
from creditbank.rules.models import OutcomeStatus
from creditbank.rules.outcomes import record_from, revoke, store_evaluation
from creditbank.rules.repository import RulesRepository
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import Published, actor_label
from creditbank.standards.service import standards as standards_service


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


async def reevaluate(
    session: AsyncSession,
    published: Published,
    *,
    apply: bool,
    actor: str,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReevaluationReport:
    """What ``published`` would change for every learner; with ``apply``, change it.

    Each learner's statements are replayed in their original order under the new
    version (from the facts logged when they were first evaluated), and the
    result is compared unit by unit with her active outcomes. Applying revokes
    (reverses) what no longer holds and deposits what is new or different, as
    new outcomes; the old ones stay, marked superseded. Nothing is rewritten.
    ``progress(done, total)`` hears of each learner done (the command line's bar).
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
    learners = await repo.learners_with_evaluations()
    for learner_id in learners:
        report.learners += 1
        if apply:
            await repo.lock("learner", str(learner_id))
        changes, replayed = await _replay(session, learner_id, standards)
        report.changes.extend(changes)
        if apply and changes:
            await _apply_changes(
                session, learner_id, changes, replayed, published, actor=actor, now=now
            )
        if progress is not None:
            progress(report.learners, len(learners))
    return report


async def _replay(
    session: AsyncSession, learner_id: uuid.UUID, standards: StandardsSet
) -> tuple[list[Change], dict[str, tuple[uuid.UUID, EngineEvaluation]]]:
    repo = RulesRepository.from_session(session)
    outcomes = await repo.outcomes_of(learner_id)
    active = {o.unit_code: o for o in outcomes if o.status == OutcomeStatus.ACTIVE.value}
    expired = [o for o in outcomes if o.status == OutcomeStatus.EXPIRED.value]
    finished = {o.statement_id for o in expired}
    record = record_from(expired, standards)
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
        chosen = next(d for d in found[1].decisions if d.unit_code == unit_code) if found else None
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
            await revoke(
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
        only = dataclasses.replace(
            result,
            decisions=tuple(d for d in result.decisions if d.unit_code == change.unit_code),
        )
        _, created = await store_evaluation(
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


async def reevaluate_version(
    session: AsyncSession,
    principal: Principal,
    set_id: str,
    version: str,
    *,
    apply: bool,
    ip: str | None = None,
) -> dict[str, Any]:
    """What a published version changes for which learners; with ``apply``, change it
    (the operator: ``standards.reevaluate``; an application is audited)."""
    authz.authorize(principal, "standards.reevaluate")
    published = await standards_service.get_version(session, set_id, version)
    report = await reevaluate(session, published, apply=apply, actor=actor_label(principal))
    answer = report.as_json()
    if apply:
        await audit_service.record(
            session,
            actor=principal,
            action="standards.reevaluate",
            object_type="standards_version",
            object_id=published.row.id,
            detail={
                "set_id": set_id,
                "version": version,
                "learners_changed": answer["learners_changed"],
                **answer["totals"],
            },
            ip=ip,
        )
    return answer


@dataclass(frozen=True)
class Preview:
    """A set not yet published, checked, and what it would change for every learner."""

    standards: StandardsSet
    #: ``new`` (publishing stores it), ``published`` (identical content is already
    #: published: publishing changes nothing) or ``conflict`` (that id and version are
    #: published with other content: publishing is refused).
    status: str
    report: dict[str, Any]


async def preview_content(
    session: AsyncSession, principal: Principal, content: dict[str, Any]
) -> Preview:
    """The dry run before publishing (the operator): ``content`` checked as a standards
    set and replayed for every learner against her active outcomes. Writes nothing."""
    authz.authorize(principal, "standards.publish")
    loaded = standards_service.parse_content(principal, content)
    meta = loaded.meta
    existing = next(
        (
            v
            for v in await standards_service.versions_for(session, principal, set_id=meta.id)
            if v.version == meta.version
        ),
        None,
    )
    if existing is None:
        status = "new"
    else:
        status = "published" if existing.content_hash == loaded.content_hash else "conflict"
    draft = standards_service.draft(loaded, actor=actor_label(principal))
    report = await reevaluate(session, draft, apply=False, actor=actor_label(principal))
    return Preview(standards=loaded, status=status, report=report.as_json())
