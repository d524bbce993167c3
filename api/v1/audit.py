"""The audit log, for the operator: ``GET /api/v1/audit``."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from api.params import ApiDateTime
from creditbank.audit.service import audit as audit_service
from creditbank.identity.schemas import AuditRead

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditRead])
async def query_audit(
    principal: CurrentPrincipal,
    session: SessionDep,
    action: str | None = None,
    actor_id: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str | None = None,
    since: ApiDateTime | None = None,
    until: ApiDateTime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> object:
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    return await audit_service.read(
        session,
        principal,
        action=action,
        actor_id=actor_id,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )
