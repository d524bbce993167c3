"""Selectively disclosed shares of a transcript (SD-JWT VC): create, list, revoke, and
the share URL a verifier opens.

Thin: the shares service decides who may do what, signs and revokes.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from api.auth import ClientIp, CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from creditbank.transcripts.schemas import (
    ShareCreate,
    ShareRead,
    ShareStatusRead,
    TranscriptStatusChange,
)
from creditbank.transcripts.sdjwt import MEDIA_TYPE
from creditbank.transcripts.shares import SHARES_PATH, share_read
from creditbank.transcripts.shares import shares as shares_service

router = APIRouter(tags=["transcripts"])


@router.post(
    "/api/v1/transcripts/{transcript_id}/shares",
    response_model=ShareRead,
    status_code=status.HTTP_201_CREATED,
)
async def create_share(
    transcript_id: uuid.UUID,
    body: ShareCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> object:
    """Share a selectively disclosed SD-JWT VC of the transcript (the learner herself):
    only the outcomes, conversions and personal claims named are disclosed."""
    share = await shares_service.create(session, principal, transcript_id, body, settings=settings)
    return share_read(settings, share)


@router.get("/api/v1/transcripts/{transcript_id}/shares", response_model=list[ShareRead])
async def list_shares(
    transcript_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    settings: SettingsDep,
) -> object:
    found = await shares_service.of_transcript(session, principal, transcript_id)
    return [share_read(settings, s) for s in found]


@router.delete("/api/v1/transcripts/{transcript_id}/shares/{share_id}", response_model=ShareRead)
async def revoke_share(
    transcript_id: uuid.UUID,
    share_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> object:
    """Revoke a share (the learner herself or the operator); verifying it then fails."""
    share = await shares_service.revoke(session, principal, transcript_id, share_id)
    return share_read(settings, share)


@router.post(
    "/api/v1/transcripts/{transcript_id}/shares/{share_id}/suspend",
    response_model=ShareStatusRead,
)
async def suspend_share(
    transcript_id: uuid.UUID,
    share_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
    body: TranscriptStatusChange | None = None,
) -> object:
    """Suspend one share (the learner herself or the operator): its suspension bit is set
    in its status list until she lifts it; the transcript and its other shares stay."""
    return await shares_service.change_status(
        session, principal, transcript_id, share_id, suspended=True,
        reason=body.reason if body else None, ip=ip,
    )  # fmt: skip


@router.post(
    "/api/v1/transcripts/{transcript_id}/shares/{share_id}/unsuspend",
    response_model=ShareStatusRead,
)
async def unsuspend_share(
    transcript_id: uuid.UUID,
    share_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
    body: TranscriptStatusChange | None = None,
) -> object:
    """Reinstate a suspended share (409 while its transcript is suspended; a revoked
    share stays revoked)."""
    return await shares_service.change_status(
        session, principal, transcript_id, share_id, suspended=False,
        reason=body.reason if body else None, ip=ip,
    )  # fmt: skip


@router.get(
    SHARES_PATH + "{share_id}",
    response_model=str,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
)
async def share_presentation(share_id: uuid.UUID, session: ReadSessionDep) -> object:
    """The share's SD-JWT VC for whoever holds its URL (404 once revoked)."""
    return Response(await shares_service.presentation(session, share_id), media_type=MEDIA_TYPE)
