"""Identity links asserted by institutions: ``/api/v1/identity-links``.

(a) with the learner's consent code; (b) in bulk by national ID (blind index).
Refusals (replayed or unknown codes, IFIs linked to someone else) are audited by the
identity service.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from api.auth import ClientIp, CurrentPrincipal
from api.deps import SessionDep
from api.v1.common import KeyringDep
from creditbank.identity.schemas import BulkLink, BulkLinkResults, LinkAssert, LinkRead
from creditbank.identity.service import identity as identity_service

router = APIRouter(prefix="/api/v1/identity-links", tags=["identity links"])


@router.post("", response_model=LinkRead, status_code=status.HTTP_201_CREATED)
async def assert_link(
    body: LinkAssert,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    ip: ClientIp,
) -> object:
    return await identity_service.link_with_consent(
        session,
        principal,
        body.institution,
        keyring=keyring,
        consent_code=body.consent_code,
        agent=body.agent,
        ip=ip,
    )


@router.post("/bulk", response_model=BulkLinkResults, response_model_exclude_none=True)
async def bulk_link(
    body: BulkLink,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    ip: ClientIp,
) -> object:
    results = await identity_service.bulk_link_by_national_id(
        session,
        principal,
        body.institution,
        keyring=keyring,
        items=[item.model_dump() for item in body.items],
        ip=ip,
    )
    return {"results": results}


@router.delete("/{link_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_link(
    link_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, ip: ClientIp
) -> Response:
    await identity_service.remove_link(session, principal, link_id, ip=ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
