"""Conversions (学分转换): ``/api/v1/conversions`` — dry run, applications, decisions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, status

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from creditbank.conversions.schemas import (
    AppealCreate,
    ApplicationCreate,
    ApplicationDetail,
    ApplicationRead,
    DecisionCreate,
    DryRunRead,
)
from creditbank.conversions.service import conversions as conversion_service

router = APIRouter(prefix="/api/v1/conversions", tags=["conversions"])


@router.get("/learners/{learner_id}/options", response_model=DryRunRead)
async def options(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    settings: SettingsDep,
) -> object:
    """What could my record convert to? Each option lists the outcomes it would use."""
    dry = await conversion_service.options(session, principal, settings, learner_id=learner_id)
    return {
        "learner_id": dry.learner_id,
        "standards_id": dry.standards_id,
        "standards_version": dry.standards_version,
        "standards_hash": dry.standards_hash,
        "as_of": dry.as_of,
        "options": [o.model_dump() for o in dry.options],
    }


@router.post(
    "/learners/{learner_id}/applications",
    response_model=ApplicationRead,
    status_code=status.HTTP_201_CREATED,
)
async def apply(
    learner_id: uuid.UUID,
    body: ApplicationCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> object:
    """Apply for one conversion rule; 409 when the record does not satisfy it (with why)."""
    return await conversion_service.apply(
        session, principal, settings, learner_id=learner_id, rule_id=body.rule_id, note=body.note
    )


@router.get("/learners/{learner_id}/applications", response_model=list[ApplicationRead])
async def learner_applications(
    learner_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    return await conversion_service.of_learner(session, principal, learner_id)


@router.get("/applications", response_model=list[ApplicationRead])
async def queue(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    status_: str | None = Query(default=None, alias="status"),
    limit: int = Query(default=100, ge=1, le=500),
) -> object:
    """Applications awaiting a decision in the certifier's scope (never her own)."""
    return await conversion_service.queue(session, principal, status=status_, limit=limit)


@router.get("/applications/{application_id}", response_model=ApplicationDetail)
async def get_application(
    application_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> object:
    return await conversion_service.detail(session, principal, application_id)


@router.post("/applications/{application_id}/decisions", response_model=ApplicationRead)
async def decide(
    application_id: uuid.UUID,
    body: DecisionCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> object:
    """Approve or reject, with a reason (certifier in scope; never her own application)."""
    return await conversion_service.review(
        session, principal, settings, application_id, decision=body.decision, reason=body.reason
    )


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationRead)
async def withdraw(
    application_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> object:
    return await conversion_service.withdraw(session, principal, application_id)


@router.post("/applications/{application_id}/appeal", response_model=ApplicationRead)
async def appeal(
    application_id: uuid.UUID,
    body: AppealCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> object:
    return await conversion_service.appeal(session, principal, application_id, reason=body.reason)
