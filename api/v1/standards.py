"""Published standards versions: list, read, publish, re-evaluate: ``/api/v1/standards``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import ValidationError

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep
from creditbank.errors import Forbidden, ValidationFailed
from creditbank.identity.principal import Principal
from creditbank.rules.service import rules as rules_service
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import standards as standards_service
from creditbank.standards.version_schemas import StandardsVersionDetail, StandardsVersionRead

router = APIRouter(prefix="/api/v1/standards", tags=["standards"])


def _operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise Forbidden("operators only / 仅限管理员", code="forbidden")


@router.get("", response_model=list[StandardsVersionRead])
async def list_versions(
    principal: CurrentPrincipal, session: ReadSessionDep, set_id: str | None = None
) -> object:
    return await standards_service.list_versions(session, set_id=set_id)


@router.get("/in-force", response_model=StandardsVersionRead)
async def in_force(
    principal: CurrentPrincipal, session: ReadSessionDep, set_id: str | None = None
) -> object:
    """The version in force now."""
    return (await standards_service.in_force(session, set_id=set_id)).row


@router.get("/{set_id}/{version}", response_model=StandardsVersionDetail)
async def read_version(
    set_id: str, version: str, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    return (await standards_service.get_version(session, set_id, version)).row


@router.post("", response_model=StandardsVersionRead, status_code=status.HTTP_201_CREATED)
async def publish(body: dict[str, Any], principal: CurrentPrincipal, session: SessionDep) -> object:
    """Publish a set given as JSON (the shape of ``GET .../{set_id}/{version}`` content)."""
    _operator(principal)
    try:
        loaded = StandardsSet.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(str(exc), code="invalid_standards") from exc
    actor = f"user:{principal.id}" if principal.id else "operator"
    return (await standards_service.publish(session, loaded, actor=actor)).row


@router.post("/{set_id}/{version}/reevaluate")
async def reevaluate(
    set_id: str,
    version: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    apply: bool = False,
) -> dict[str, Any]:
    """What this version changes for which learners; ``?apply=true`` writes it."""
    _operator(principal)
    published = await standards_service.get_version(session, set_id, version)
    actor = f"user:{principal.id}" if principal.id else "operator"
    report = await rules_service.reevaluate(session, published, apply=apply, actor=actor)
    return report.as_json()
