"""Institutions registry, accreditation and LRS credentials: ``/api/v1/institutions``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from api.auth import ClientIp, CurrentPrincipal
from api.deps import SessionDep
from creditbank.identity.schemas import (
    Accreditation,
    CredentialCreate,
    CredentialIssued,
    CredentialRead,
    InstitutionCreate,
    InstitutionRead,
    InstitutionUpdate,
)
from creditbank.identity.service import IssuedCredential
from creditbank.identity.service import identity as identity_service

router = APIRouter(prefix="/api/v1/institutions", tags=["institutions"])


def _issued(issued: IssuedCredential) -> CredentialIssued:
    return CredentialIssued(
        **CredentialRead.model_validate(issued.credential).model_dump(), secret=issued.secret
    )


@router.get("", response_model=list[InstitutionRead])
async def list_institutions(principal: CurrentPrincipal, session: SessionDep) -> object:
    return await identity_service.list_institutions(session, principal)


@router.post("", response_model=InstitutionRead, status_code=status.HTTP_201_CREATED)
async def create_institution(
    body: InstitutionCreate, principal: CurrentPrincipal, session: SessionDep, ip: ClientIp
) -> object:
    return await identity_service.register_institution(
        session, principal, **body.model_dump(), ip=ip
    )


@router.get("/{key}", response_model=InstitutionRead)
async def get_institution(key: str, principal: CurrentPrincipal, session: SessionDep) -> object:
    return await identity_service.read_institution(session, principal, key)


@router.patch("/{key}", response_model=InstitutionRead)
async def update_institution(
    key: str,
    body: InstitutionUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
) -> object:
    institution = await identity_service.get_institution(session, key)
    return await identity_service.update_institution(
        session, principal, institution, changes=body.model_dump(exclude_unset=True), ip=ip
    )


@router.put("/{key}/accreditation", response_model=InstitutionRead)
async def accredit_institution(
    key: str,
    body: Accreditation,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
) -> object:
    """Only an operator accredits or withdraws accreditation (audited, refusals too)."""
    institution = await identity_service.get_institution(session, key)
    return await identity_service.accredit(
        session,
        principal,
        institution,
        accredited=body.accredited,
        accredited_from=body.accredited_from,
        accredited_until=body.accredited_until,
        scope=body.scope.model_dump() if body.scope else None,
        ip=ip,
    )


@router.get("/{key}/credentials", response_model=list[CredentialRead])
async def list_credentials(key: str, principal: CurrentPrincipal, session: SessionDep) -> object:
    institution = await identity_service.get_institution(session, key)
    return await identity_service.list_credentials(session, principal, institution)


@router.post(
    "/{key}/credentials", response_model=CredentialIssued, status_code=status.HTTP_201_CREATED
)
async def create_credential(
    key: str,
    body: CredentialCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
) -> object:
    """A new LRS credential; the secret is in this answer only."""
    institution = await identity_service.get_institution(session, key)
    issued = await identity_service.create_credential(
        session,
        principal,
        institution,
        scopes=body.scopes,
        label=body.label,
        xapi_version=body.xapi_version,
        ip=ip,
    )
    return _issued(issued)


@router.post("/{key}/credentials/{credential_id}/rotate", response_model=CredentialIssued)
async def rotate_credential(
    key: str,
    credential_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
) -> object:
    """A new secret for the same key; the old secret stops working at once."""
    institution = await identity_service.get_institution(session, key)
    issued = await identity_service.rotate_credential(
        session, principal, institution, credential_id, ip=ip
    )
    return _issued(issued)


@router.delete("/{key}/credentials/{credential_id}", response_model=CredentialRead)
async def revoke_credential(
    key: str,
    credential_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
) -> object:
    """Revoke at once (Basic and bearer tokens of this credential refuse from now on)."""
    institution = await identity_service.get_institution(session, key)
    return await identity_service.revoke_credential(
        session, principal, institution, credential_id, ip=ip
    )
