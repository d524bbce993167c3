"""The credit ledger: ``/api/v1/ledger`` (balances, entries, verification, checkpoints)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, status

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.params import ApiDateTime
from api.replica import ReplicaSessionDep
from creditbank.ledger.checkpoints import checkpoints as checkpoint_service
from creditbank.ledger.keys import load_keys
from creditbank.ledger.schemas import (
    AdjustmentCreate,
    BalancesRead,
    CheckpointDocumentRead,
    CheckpointKeysRead,
    CheckpointRead,
    EntryRead,
    InclusionProofRead,
    VerifyRead,
)
from creditbank.ledger.service import ledger as ledger_service

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])


@router.get("/learners/{learner_id}/balances", response_model=BalancesRead)
async def balances(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReplicaSessionDep,
    as_of: ApiDateTime | None = None,
) -> object:
    """Banked, available, converted and expired credits, by category and level, as of a time."""
    # On the hot standby, unless the caller's own last write is not replayed there yet.
    return await ledger_service.account(session, principal, learner_id, as_of=as_of)


@router.get("/learners/{learner_id}/entries", response_model=list[EntryRead])
async def entries(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReplicaSessionDep,
    after_seq: int = Query(default=0, ge=0),
    limit: int = Query(default=100, ge=1, le=1000),
    kind: str | None = None,
) -> object:
    """The learner's entries in order, each naming outcome(s), rule, standards and actor."""
    return await ledger_service.read_entries(
        session, principal, learner_id, after_seq=after_seq, limit=limit, kind=kind
    )


@router.get("/learners/{learner_id}/verify", response_model=VerifyRead)
async def verify_learner(
    learner_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    """Re-compute the learner's hash chain; names the first broken entry."""
    return await ledger_service.verify_account(session, principal, learner_id)


@router.post(
    "/learners/{learner_id}/adjustments",
    response_model=EntryRead,
    status_code=status.HTTP_201_CREATED,
)
async def adjust(
    learner_id: uuid.UUID,
    body: AdjustmentCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> object:
    """An operator's correction, with a reason (never zero credits)."""
    return await ledger_service.adjust(
        session,
        principal=principal,
        learner_id=learner_id,
        amount=body.amount,
        reason=body.reason,
        idempotency_key=body.idempotency_key,
        category=body.category,
        level=body.level,
        outcome_id=body.outcome_id,
    )


@router.get("/learners/{learner_id}/inclusion-proof", response_model=InclusionProofRead)
async def inclusion_proof(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    checkpoint_id: int | None = None,
) -> object:
    """The Merkle audit path of the learner's chain head under a checkpoint (default: latest)."""
    return await checkpoint_service.proof_for(
        session, principal, learner_id=learner_id, checkpoint_id=checkpoint_id
    )


@router.get("/entries/{entry_id}", response_model=EntryRead)
async def entry(
    entry_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    return await ledger_service.read_entry(session, principal, entry_id)


@router.get("/checkpoints", response_model=list[CheckpointRead])
async def list_checkpoints(
    session: ReadSessionDep,
    limit: int = Query(default=50, ge=1, le=500),
    before_id: int | None = None,
) -> object:
    """Signed checkpoints, newest first (public: roots and signatures only)."""
    return await checkpoint_service.recent(session, limit=limit, before_id=before_id)


@router.post("/checkpoints", response_model=CheckpointRead, status_code=status.HTTP_201_CREATED)
async def create_checkpoint(
    principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> object:
    """Sign a checkpoint now (operator)."""
    return await checkpoint_service.create_for(session, principal, settings)


@router.get("/checkpoints/keys", response_model=CheckpointKeysRead)
async def checkpoint_keys(settings: SettingsDep) -> object:
    """The public keys that sign checkpoints (JWKS)."""
    return {"keys": load_keys(settings).jwks()}


@router.get("/checkpoints/latest", response_model=CheckpointRead)
async def latest_checkpoint(session: ReadSessionDep) -> object:
    return await checkpoint_service.get(session, None)


@router.get("/checkpoints/{checkpoint_id}", response_model=CheckpointRead)
async def get_checkpoint(checkpoint_id: int, session: ReadSessionDep) -> object:
    return await checkpoint_service.get(session, checkpoint_id)


@router.get("/checkpoints/{checkpoint_id}/document", response_model=CheckpointDocumentRead)
async def checkpoint_document(
    checkpoint_id: int, principal: CurrentPrincipal, session: ReadSessionDep, settings: SettingsDep
) -> object:
    """The full checkpoint document with its leaves, for `creditbank ledger audit` (operator)."""
    return await checkpoint_service.document_for(session, principal, checkpoint_id, settings)
