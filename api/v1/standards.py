"""Published standards versions: list, read, publish, re-evaluate: ``/api/v1/standards``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep
from creditbank.rules.schemas import ReevaluationRead
from creditbank.rules.service import rules as rules_service
from creditbank.standards.service import standards as standards_service
from creditbank.standards.version_schemas import StandardsVersionDetail, StandardsVersionRead

router = APIRouter(prefix="/api/v1/standards", tags=["standards"])


@router.get("", response_model=list[StandardsVersionRead])
async def list_versions(
    principal: CurrentPrincipal, session: ReadSessionDep, set_id: str | None = None
) -> object:
    return await standards_service.versions_for(session, principal, set_id=set_id)


@router.get("/in-force", response_model=StandardsVersionRead)
async def in_force(
    principal: CurrentPrincipal, session: ReadSessionDep, set_id: str | None = None
) -> object:
    """The version in force now."""
    return await standards_service.in_force_for(session, principal, set_id=set_id)


@router.get("/{set_id}/{version}", response_model=StandardsVersionDetail)
async def read_version(
    set_id: str, version: str, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    return await standards_service.version_for(session, principal, set_id, version)


@router.post("", response_model=StandardsVersionRead, status_code=status.HTTP_201_CREATED)
async def publish(body: dict[str, Any], principal: CurrentPrincipal, session: SessionDep) -> object:
    """Publish a set given as JSON (the shape of ``GET .../{set_id}/{version}`` content)."""
    return (await standards_service.publish_content(session, principal, body)).row


@router.post("/{set_id}/{version}/reevaluate", response_model=ReevaluationRead)
async def reevaluate(
    set_id: str,
    version: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    apply: bool = False,
) -> object:
    """What this version changes for which learners; ``?apply=true`` writes it."""
    return await rules_service.reevaluate_version(session, principal, set_id, version, apply=apply)
