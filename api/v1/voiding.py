"""The operator voids a statement on an institution's behalf: ``/api/v1/statements``.

An institution voids its own statements through xAPI; another institution may not
(403). When an institution cannot (its system is gone, a record was sent in its
name by mistake), an operator voids it here, with a reason, and the audit log keeps
who did it and why.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.auth import ClientIp, CurrentPrincipal
from api.deps import SessionDep, SettingsDep
from creditbank.lrs.schemas import VoidAnswer, VoidRequest
from creditbank.lrs.service import statements as statement_service

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])


@router.post("/{statement_id}/void", response_model=VoidAnswer)
async def void_statement(
    statement_id: uuid.UUID,
    payload: VoidRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
) -> object:
    """Void a statement for the institution that stored it (operator; audited)."""
    return await statement_service.void_on_behalf(
        session, principal, statement_id, reason=payload.reason, settings=settings.lrs, ip=ip
    )
