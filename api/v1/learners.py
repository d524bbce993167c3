"""Learner accounts, consent codes, data export and erasure: ``/api/v1/learners``.

Profiles are masked unless ``?reveal=true`` and the caller is the learner or the
operator; every clear read is audited.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from api.auth import ClientIp, CurrentPrincipal
from api.deps import SessionDep, SettingsDep
from api.v1.common import KeyringDep
from creditbank.errors import NotFound
from creditbank.identity.principal import Principal
from creditbank.identity.schemas import (
    ConsentCodeCreate,
    ConsentCodeIssued,
    LearnerCreate,
    LearnerExport,
    LearnerRead,
    LearnerSummary,
    LearnerUpdate,
    LinkRead,
    NationalIdLookup,
)
from creditbank.identity.service import identity as identity_service

router = APIRouter(prefix="/api/v1/learners", tags=["learners"])


def _own_learner_id(principal: Principal) -> uuid.UUID:
    if principal.learner_id is None:
        raise NotFound("you have no learner account / 您没有学习者账户", code="learner_not_found")
    return principal.learner_id


@router.post("", response_model=LearnerRead, status_code=status.HTTP_201_CREATED)
async def create_learner(
    body: LearnerCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyringDep,
    ip: ClientIp,
) -> object:
    """Open a bank account (operator); optionally with a learner sign-in."""
    return await identity_service.open_account(
        session,
        principal,
        keyring=keyring,
        settings=settings,
        name=body.name,
        national_id=body.national_id,
        phone=body.phone,
        email=body.email,
        username=body.username,
        password=body.password,
        ip=ip,
    )


@router.get("", response_model=list[LearnerSummary])
async def list_learners(
    principal: CurrentPrincipal, session: SessionDep, limit: int = 100, offset: int = 0
) -> object:
    return await identity_service.list_learners(session, principal, limit=limit, offset=offset)


@router.post("/lookup", response_model=LearnerSummary)
async def lookup_by_national_id(
    body: NationalIdLookup,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    ip: ClientIp,
) -> object:
    """Exact lookup by national ID through the blind index (operator, audited)."""
    learner = await identity_service.find_by_national_id(
        session, principal, body.national_id, keyring=keyring, ip=ip
    )
    if learner is None:
        raise NotFound("no learner with this national ID", code="learner_not_found")
    return learner


@router.get("/me", response_model=LearnerRead)
async def my_profile(
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    ip: ClientIp,
    reveal: bool = False,
) -> object:
    learner = await identity_service.get_learner(session, _own_learner_id(principal))
    return await identity_service.read_profile(
        session, principal, learner, keyring=keyring, reveal=reveal, ip=ip
    )


@router.get("/{learner_id}", response_model=LearnerRead)
async def get_learner(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    ip: ClientIp,
    reveal: bool = False,
) -> object:
    return await identity_service.read_learner(
        session, principal, learner_id, keyring=keyring, reveal=reveal, ip=ip
    )


@router.patch("/{learner_id}", response_model=LearnerRead)
async def update_learner(
    learner_id: uuid.UUID,
    body: LearnerUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    ip: ClientIp,
) -> object:
    learner = await identity_service.get_learner(session, learner_id)
    await identity_service.update_learner(
        session,
        principal,
        learner,
        keyring=keyring,
        changes=body.model_dump(exclude_unset=True),
        ip=ip,
    )
    return await identity_service.read_profile(session, principal, learner, keyring=keyring)


@router.get("/{learner_id}/links", response_model=list[LinkRead])
async def list_links(
    learner_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> object:
    learner = await identity_service.get_learner(session, learner_id)
    return await identity_service.list_links(session, principal, learner)


@router.post(
    "/{learner_id}/consent-codes",
    response_model=ConsentCodeIssued,
    status_code=status.HTTP_201_CREATED,
)
async def create_consent_code(
    learner_id: uuid.UUID,
    body: ConsentCodeCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyringDep,
    ip: ClientIp,
) -> object:
    """A single-use code (shown once, expiring) to give an institution that links you."""
    learner = await identity_service.get_learner(session, learner_id)
    institution = (
        await identity_service.get_institution(session, body.institution)
        if body.institution
        else None
    )
    consent, code = await identity_service.create_consent_code(
        session,
        principal,
        learner,
        keyring=keyring,
        ttl_seconds=settings.identity.consent_code_ttl_seconds,
        institution=institution,
        ip=ip,
    )
    return ConsentCodeIssued(
        id=consent.id, code=code, expires_at=consent.expires_at, institution=body.institution
    )


@router.get("/{learner_id}/export", response_model=LearnerExport)
async def export_learner(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    ip: ClientIp,
) -> object:
    """All the bank holds about the learner, as JSON (the learner or the operator)."""
    return await identity_service.export_learner(
        session, principal, learner_id, keyring=keyring, ip=ip
    )


@router.post("/{learner_id}/erasure", response_model=LearnerSummary)
async def erase_learner(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
) -> object:
    """Erase personal data; ledger and issued transcripts stay verifiable (learner id only)."""
    return await identity_service.erase_learner(session, principal, learner_id, ip=ip)
