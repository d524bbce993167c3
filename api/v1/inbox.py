"""The learner's portal inbox: ``/api/v1/inbox`` (decisions on her applications)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep
from creditbank.conversions.schemas import MessageRead
from creditbank.conversions.service import inbox as inbox_service

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


@router.get("/learners/{learner_id}/messages", response_model=list[MessageRead])
async def messages(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    unread: bool = False,
    limit: int = Query(default=100, ge=1, le=500),
) -> object:
    return await inbox_service.messages(
        session, principal, learner_id=learner_id, unread_only=unread, limit=limit
    )


@router.post("/messages/{message_id}/read", response_model=MessageRead)
async def mark_read(
    message_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> object:
    return await inbox_service.mark_read(session, principal, message_id)
