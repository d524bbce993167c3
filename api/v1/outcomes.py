"""Learning outcomes and explanations: ``/api/v1/.../outcomes``, ``.../explain``, dry runs."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep
from creditbank.errors import BadRequest, Forbidden, NotFound
from creditbank.identity.authz import Resource, allowed, require_learner_access
from creditbank.identity.principal import Principal
from creditbank.ledger.service import ledger as ledger_service
from creditbank.lrs.service import get_statement_for_processing
from creditbank.rules.schemas import DryRunRequest, OutcomeRead
from creditbank.rules.service import rules as rules_service

router = APIRouter(prefix="/api/v1", tags=["outcomes"])


def _learner(principal: Principal, learner_id: str) -> uuid.UUID:
    if learner_id == "me":
        if principal.learner_id is None:
            raise NotFound(
                "you have no learner account / 您没有学习者账户", code="learner_not_found"
            )
        return principal.learner_id
    try:
        return uuid.UUID(learner_id)
    except ValueError as exc:
        raise NotFound("no such learner / 学习者不存在", code="learner_not_found") from exc


@router.get("/learners/{learner_id}/outcomes", response_model=list[OutcomeRead])
async def list_outcomes(
    learner_id: str,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    status: str | None = None,
) -> object:
    """A learner's outcomes (``me`` for one's own): source institution, statements, rule."""
    learner = _learner(principal, learner_id)
    require_learner_access(principal, learner)
    return await rules_service.list_outcomes(session, learner, status=status)


@router.get("/outcomes/{outcome_id}", response_model=OutcomeRead)
async def read_outcome(
    outcome_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    outcome = await rules_service.get_outcome(session, outcome_id)
    require_learner_access(principal, outcome.learner_id)
    return outcome


@router.get("/outcomes/{outcome_id}/explain")
async def explain_outcome(
    outcome_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> dict[str, Any]:
    """Why this outcome exists: statement ids, rule and version, standards, the trace."""
    outcome = await rules_service.get_outcome(session, outcome_id)
    require_learner_access(principal, outcome.learner_id)
    return await rules_service.explain_outcome(session, outcome)


@router.get("/ledger/entries/{entry_id}/explain")
async def explain_ledger_entry(
    entry_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> dict[str, Any]:
    """Walk back from a ledger entry to its outcome(s), rule versions and statements."""
    entry = await ledger_service.entry(session, entry_id)
    if entry is None:
        raise NotFound("no such ledger entry / 账目不存在", code="ledger_entry_not_found")
    require_learner_access(principal, entry.learner_id)
    outcome_ids = [uuid.UUID(leg["outcome_id"]) for leg in entry.legs if leg.get("outcome_id")]
    if entry.outcome_id is not None and entry.outcome_id not in outcome_ids:
        outcome_ids.insert(0, entry.outcome_id)
    outcomes = []
    for outcome_id in outcome_ids:
        try:
            outcome = await rules_service.get_outcome(session, outcome_id)
        except NotFound:
            continue
        outcomes.append(await rules_service.explain_outcome(session, outcome))
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


@router.get("/statements/{statement_id}/explain")
async def explain_statement(
    statement_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> dict[str, Any]:
    """Why a stored statement was recognised or not (or is held, or waits).

    The learner, the operator, and the institution that sent the statement (its
    credential or admin: the bank's decision on its own record) may read it."""
    learner_id, explanation = await rules_service.explain_statement(session, statement_id)
    stored = await get_statement_for_processing(session, statement_id)
    if (
        stored is not None
        and stored.institution_id is not None
        and allowed(principal, "statement.decision", Resource(institution_id=stored.institution_id))
    ):
        return explanation
    if learner_id is not None:
        require_learner_access(principal, learner_id)
    elif not principal.is_operator:
        raise Forbidden("not allowed: statement.explain / 无权执行此操作", code="forbidden")
    return explanation


@router.post("/rules/dry-run")
async def dry_run(
    body: DryRunRequest, principal: CurrentPrincipal, session: ReadSessionDep
) -> dict[str, Any]:
    """Evaluate a posted statement against a standards version; nothing is stored."""
    institution_key = body.institution_key or principal.institution_key
    if institution_key is None:
        raise BadRequest("name the sending institution", code="institution_required")
    if body.learner_id is not None:
        require_learner_access(principal, body.learner_id)
    return await rules_service.dry_run(
        session,
        body.statement,
        institution_key=institution_key,
        version=body.version,
        set_id=body.set_id,
        learner_id=body.learner_id,
    )
