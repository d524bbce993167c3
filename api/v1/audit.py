"""The audit log, for the operator: ``GET /api/v1/audit``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from api.params import ApiDateTime
from creditbank.audit.schemas import AuditFilter
from creditbank.audit.service import audit as audit_service
from creditbank.identity.schemas import AuditRead

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditQuery(AuditFilter):
    """The audit filters as query parameters; date-times need a time zone (api.params)."""

    since: ApiDateTime | None = None
    until: ApiDateTime | None = None


@router.get("", response_model=list[AuditRead])
async def query_audit(
    principal: CurrentPrincipal, session: SessionDep, filters: Annotated[AuditQuery, Query()]
) -> object:
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    return await audit_service.read(session, principal, filters)
