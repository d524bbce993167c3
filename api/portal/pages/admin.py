"""The institution admin's and the operator's pages.

Institution admin: its LRS credentials (create, rotate, revoke; a secret is shown once,
in the answer that made it), its ingest statistics, the catalog mappings it owns.
Operator: institutions and their accreditation. Every action is authorized by the
identity service, with the signed-in principal.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import client_ip
from api.deps import get_database
from api.portal.charts import bar_chart
from api.portal.web import CheckedForm, Page, UserPage, form_text
from creditbank.identity.schemas import CredentialRead, InstitutionRead
from creditbank.identity.service import identity as identity_service
from creditbank.reporting.service import reporting as reporting_service
from creditbank.standards.service import standards as standards_service
from creditbank.standards.version_schemas import StandardsVersionRead

router = APIRouter(include_in_schema=False)

SCOPE_CHOICES = ("statements/write", "statements/read/mine", "state", "profile", "define")


async def _credentials_page(
    request: Request,
    page: Page,
    *,
    issued: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    async with get_database(request).read_scope() as session:
        institution = await identity_service.institution_for_caller(session, page.principal, None)
        credentials = [
            CredentialRead.model_validate(c)
            for c in await identity_service.list_credentials(session, page.principal, institution)
        ]
        view = InstitutionRead.model_validate(institution)
    return page.render(
        "admin/credentials.html",
        status_code=400 if errors else 200,
        institution=view,
        credentials=credentials,
        issued=issued,
        errors=errors or {},
        scope_choices=SCOPE_CHOICES,
    )


@router.get("/institution")
async def credentials(request: Request, page: UserPage) -> Response:
    return await _credentials_page(request, page)


@router.post("/institution/credentials")
async def create_credential(request: Request, page: UserPage, form: CheckedForm) -> Response:
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str) and s in SCOPE_CHOICES]
    if not scopes:
        return await _credentials_page(request, page, errors={"scopes": page.t("choose_scopes")})
    async with get_database(request).session_scope() as session:
        institution = await identity_service.institution_for_caller(session, page.principal, None)
        made = await identity_service.create_credential(
            session,
            page.principal,
            institution,
            scopes=scopes,
            label=form_text(form, "label") or None,
            ip=client_ip(request),
        )
        issued = {"key": made.credential.key, "secret": made.secret}
    return await _credentials_page(request, page, issued=issued)


@router.post("/institution/credentials/{credential_id}/rotate")
async def rotate_credential(
    request: Request, page: UserPage, form: CheckedForm, credential_id: uuid.UUID
) -> Response:
    async with get_database(request).session_scope() as session:
        institution = await identity_service.institution_for_caller(session, page.principal, None)
        made = await identity_service.rotate_credential(
            session, page.principal, institution, credential_id, ip=client_ip(request)
        )
        issued = {"key": made.credential.key, "secret": made.secret}
    return await _credentials_page(request, page, issued=issued)


@router.post("/institution/credentials/{credential_id}/revoke")
async def revoke_credential(
    request: Request, page: UserPage, form: CheckedForm, credential_id: uuid.UUID
) -> Response:
    async with get_database(request).session_scope() as session:
        institution = await identity_service.institution_for_caller(session, page.principal, None)
        await identity_service.revoke_credential(
            session, page.principal, institution, credential_id, ip=client_ip(request)
        )
    return page.redirect("/institution")


@router.get("/operate/institutions")
async def institutions(request: Request, page: UserPage, done: str | None = None) -> Response:
    async with get_database(request).read_scope() as session:
        found = [
            InstitutionRead.model_validate(i)
            for i in await identity_service.list_institutions(session, page.principal)
        ]
    return page.render("admin/institutions.html", institutions=found, notice=done)


@router.post("/operate/institutions/{key}/accreditation")
async def accreditation(request: Request, page: UserPage, form: CheckedForm, key: str) -> Response:
    accredited = form_text(form, "accredited") == "yes"
    async with get_database(request).session_scope() as session:
        institution = await identity_service.get_institution(session, key)
        await identity_service.accredit(
            session,
            page.principal,
            institution,
            accredited=accredited,
            accredited_from=institution.accredited_from if accredited else None,
            ip=client_ip(request),
        )
    return page.redirect("/operate/institutions?done=saved")


@router.get("/institution/ingest")
async def ingest(request: Request, page: UserPage) -> Response:
    async with get_database(request).read_scope() as session:
        institution = await identity_service.institution_for_caller(session, page.principal, None)
        stats = await reporting_service.ingest(
            session, page.principal, institution_id=institution.id, institution_key=institution.key
        )
        view = InstitutionRead.model_validate(institution)
    bars = [(c.period[5:], Decimal(c.count)) for c in stats.statements_per_day]
    title = page.t("chart_statements")
    return page.render(
        "admin/ingest.html",
        institution=view,
        stats=stats,
        chart=bar_chart("chart-ingest", title, bars),
    )


@router.get("/institution/mappings")
async def mappings(request: Request, page: UserPage) -> Response:
    """The catalog mappings the institution owns: what each of its activities maps to
    in the standards in force."""
    async with get_database(request).read_scope() as session:
        institution = await identity_service.institution_for_caller(session, page.principal, None)
        found = await standards_service.mappings_for(
            session,
            page.principal,
            institution_id=institution.id,
            institution_key=institution.key,
            set_id=page.settings.rules.standards_set,
        )
        view = InstitutionRead.model_validate(institution)
    return page.render(
        "admin/mappings.html",
        institution=view,
        version=StandardsVersionRead.model_validate(found.version),
        entry=found.institution,
        mappings=found.mappings,
    )
