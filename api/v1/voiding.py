"""The operator voids a statement on an institution's behalf: ``/api/v1/statements``.

An institution voids its own statements through xAPI; another institution may not
(403). When an institution cannot (its system is gone, a record was sent in its
name by mistake), an operator voids it here, with a reason, and the audit log keeps
who did it and why.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import ClientIp, CurrentPrincipal
from api.deps import SessionDep, SettingsDep
from api.v1.common import audit_refusals
from creditbank.lrs.service import statements as statement_service

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])


class VoidRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class VoidAnswer(BaseModel):
    statement_id: uuid.UUID
    voiding_statement_id: uuid.UUID
    institution_id: uuid.UUID | None


@router.post("/{statement_id}/void", response_model=VoidAnswer)
async def void_statement(
    statement_id: uuid.UUID,
    payload: VoidRequest,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
) -> object:
    """Void a statement for the institution that stored it (operator; audited)."""
    async with audit_refusals(
        request,
        session,
        actor=principal,
        action="lrs.void_on_behalf",
        object_type="statement",
        object_id=statement_id,
        ip=ip,
    ):
        return await statement_service.void_on_behalf(
            session,
            principal,
            statement_id,
            reason=payload.reason,
            settings=settings.lrs,
            ip=ip,
        )
