"""Explanations: why an outcome exists, why a statement was (not) recognised, and
what a statement would give (a dry run that stores nothing). Never commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import BadRequest, NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service
from creditbank.kit.time import utc_now
from creditbank.ledger.service import ledger as ledger_service
from creditbank.lrs.service import get_statement_for_processing
from creditbank.rules.accumulation import LearnerRecord
from creditbank.rules.engine import evaluate_statement, evaluation_json
from creditbank.rules.facts import StatementFactsError
from creditbank.rules.models import Outcome
from creditbank.rules.outcomes import get_outcome, learner_record, outcome_trace, read_outcome
from creditbank.rules.recognition import ENGINE_TYPES, statement_facts
from creditbank.rules.repository import RulesRepository
from creditbank.standards.service import standards as standards_service


async def explain_outcome(session: AsyncSession, outcome: Outcome) -> dict[str, Any]:
    """Why this outcome exists: statement(s), rule and version, standards, the trace."""
    evaluation = await RulesRepository.from_session(session).evaluation(outcome.evaluation_id)
    detail = evaluation.detail if evaluation is not None else None
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
        "trace": outcome_trace(outcome, detail),
        "evaluation": detail,
    }


async def explain_statement(
    session: AsyncSession, statement_id: uuid.UUID
) -> tuple[uuid.UUID | None, dict[str, Any]]:
    """Why a stored statement was (not) recognised: its evaluations, newest last.

    Returns the learner id (for authorization) and the explanation.
    """
    repo = RulesRepository.from_session(session)
    # Three reads, each seeing what was committed when it began (READ COMMITTED): in
    # the order a worker's commit changes them, so one landing in between is never
    # half seen. An evaluation is committed with its outcomes (read after it, so all
    # there) and with the release of a held statement (read before it, so a "held"
    # answer is one that was true).
    held = await repo.held(statement_id)
    rows = await repo.evaluations_of(statement_id)
    outcomes = await repo.outcomes_of_statement(statement_id)
    if not rows and held is None:
        stored = await get_statement_for_processing(session, statement_id)
        if stored is None:
            raise NotFound(f"no statement {statement_id} / 陈述不存在", code="statement_not_found")
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


async def dry_run(
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
        facts, notes = statement_facts(body, institution, published.standards)
    except (StatementFactsError, ValueError) as exc:
        raise BadRequest(
            f"cannot evaluate this statement: {exc}", code="invalid_statement"
        ) from exc
    record = (
        await learner_record(session, learner_id, published.standards)
        if learner_id is not None
        else LearnerRecord()
    )
    result = evaluate_statement(facts, record, published.standards)
    detail = evaluation_json(result)
    detail["notes"] = notes
    detail["stored"] = False
    return detail


# -- a caller's view: authorized here, through identity.authz ---------------------------


async def explain_outcome_for(
    session: AsyncSession, principal: Principal, outcome_id: uuid.UUID
) -> dict[str, Any]:
    """Why this outcome exists, for its learner or the operator."""
    return await explain_outcome(session, await read_outcome(session, principal, outcome_id))


async def explain_ledger_entry(
    session: AsyncSession, principal: Principal, entry_id: uuid.UUID
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
            outcome = await get_outcome(session, outcome_id)
        except NotFound:
            continue
        outcomes.append(await explain_outcome(session, outcome))
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
    session: AsyncSession, principal: Principal, statement_id: uuid.UUID
) -> dict[str, Any]:
    """Why a stored statement was (not) recognised: for its learner, the operator, and the
    institution that sent it (its credential or admin: the bank's decision on its own
    record)."""
    learner_id, explanation = await explain_statement(session, statement_id)
    stored = await get_statement_for_processing(session, statement_id)
    if (
        stored is not None
        and stored.institution_id is not None
        and authz.allowed(
            principal, "statement.decision", authz.Resource(institution_id=stored.institution_id)
        )
    ):
        return explanation
    authz.authorize(principal, "statement.explain", authz.Resource(learner_id=learner_id))
    return explanation


async def dry_run_for(
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
    return await dry_run(
        session,
        statement,
        institution_key=institution_key,
        version=version,
        set_id=set_id,
        learner_id=learner_id,
    )
