"""Learning outcomes and explanations: ``/api/v1/.../outcomes``, ``.../explain``, dry runs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep
from creditbank.errors import NotFound
from creditbank.identity.principal import Principal
from creditbank.rules.schemas import (
    DryRunRequest,
    DryRunResult,
    LedgerEntryExplanation,
    OutcomeExplanation,
    OutcomeRead,
    StatementExplanation,
)
from creditbank.rules.service import rules as rules_service

router = APIRouter(prefix="/api/v1", tags=["outcomes"])


def _learner(principal: Principal, learner_id: str) -> uuid.UUID:
    """The path's learner: ``me`` is the caller's own learner account."""
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
    return await rules_service.outcomes_for(
        session, principal, _learner(principal, learner_id), status=status
    )


@router.get("/outcomes/{outcome_id}", response_model=OutcomeRead)
async def read_outcome(
    outcome_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    return await rules_service.read_outcome(session, principal, outcome_id)


@router.get("/outcomes/{outcome_id}/explain", response_model=OutcomeExplanation)
async def explain_outcome(
    outcome_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    """Why this outcome exists: statement ids, rule and version, standards, the trace."""
    return await rules_service.explain_outcome_for(session, principal, outcome_id)


@router.get("/ledger/entries/{entry_id}/explain", response_model=LedgerEntryExplanation)
async def explain_ledger_entry(
    entry_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    """Walk back from a ledger entry to its outcome(s), rule versions and statements."""
    return await rules_service.explain_ledger_entry(session, principal, entry_id)


@router.get("/statements/{statement_id}/explain", response_model=StatementExplanation)
async def explain_statement(
    statement_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    """Why a stored statement was recognised or not (or is held, or waits)."""
    return await rules_service.explain_statement_for(session, principal, statement_id)


@router.post("/rules/dry-run", response_model=DryRunResult)
async def dry_run(
    body: DryRunRequest, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    """Evaluate a posted statement against a standards version; nothing is stored."""
    return await rules_service.dry_run_for(
        session,
        principal,
        body.statement,
        institution_key=body.institution_key,
        version=body.version,
        set_id=body.set_id,
        learner_id=body.learner_id,
    )
