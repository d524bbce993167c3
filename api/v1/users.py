"""Users and role grants (operator): ``/api/v1/users``."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from api.auth import ClientIp, CurrentPrincipal
from api.deps import SessionDep, SettingsDep
from creditbank.identity.schemas import RoleGrantIn, UserCreate, UserRead
from creditbank.identity.service import identity as identity_service
from creditbank.identity.signin import RoleSpec
from creditbank.identity.signin import sign_in as sign_in_service

router = APIRouter(prefix="/api/v1/users", tags=["users"])


async def _spec(session: Any, grant: RoleGrantIn) -> RoleSpec:
    institution = (
        await identity_service.get_institution(session, grant.institution)
        if grant.institution
        else None
    )
    return RoleSpec(role=grant.role, institution=institution, programme=grant.programme)


@router.get("", response_model=list[UserRead])
async def list_users(principal: CurrentPrincipal, session: SessionDep) -> object:
    users = await sign_in_service.list_users(session, principal)
    return [sign_in_service.describe_user(user) for user in users]


@router.post("", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
) -> object:
    learner = (
        await identity_service.get_learner(session, body.learner_id) if body.learner_id else None
    )
    user = await sign_in_service.create_user(
        session,
        principal,
        settings=settings,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        learner=learner,
        roles=[await _spec(session, grant) for grant in body.roles],
        ip=ip,
    )
    return sign_in_service.describe_user(user)


@router.post("/{user_id}/roles", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def grant_role(
    user_id: uuid.UUID,
    body: RoleGrantIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
) -> object:
    user = await sign_in_service.get_user(session, user_id)
    user = await sign_in_service.grant_role(
        session, principal, user, await _spec(session, body), ip=ip
    )
    return sign_in_service.describe_user(user)
