"""The learner's pages: balance, outcomes, ledger, conversions, inbox, accounts, export.

Every page reads the signed-in learner's own account (``principal.learner_id``) through
the same services as ``/api/v1``; an id in a path is looked up inside her own records,
so another learner's id is simply not found.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import client_ip
from api.deps import get_database
from api.portal.charts import Series, line_chart
from api.portal.web import CheckedForm, Page, UserPage, form_text
from api.replica import replica_scope
from creditbank.conversions.schemas import ApplicationRead, MessageRead
from creditbank.conversions.service import conversions as conversion_service
from creditbank.conversions.service import inbox as inbox_service
from creditbank.errors import NotFound
from creditbank.identity.schemas import LinkRead
from creditbank.identity.service import identity as identity_service
from creditbank.identity.tokens import keyring_for
from creditbank.kit.time import utc_now
from creditbank.ledger.schemas import EntryRead
from creditbank.ledger.service import ledger as ledger_service
from creditbank.rules.schemas import OutcomeRead
from creditbank.rules.service import rules as rules_service

router = APIRouter(prefix="/me", include_in_schema=False)


def _entries(rows: Any) -> list[EntryRead]:
    return [EntryRead.model_validate(r) for r in rows]


def _outcomes(rows: Any) -> list[OutcomeRead]:
    return [OutcomeRead.model_validate(r) for r in rows]


def own_learner(page: Page) -> uuid.UUID:
    if page.principal.learner_id is None:
        raise NotFound("you have no learner account / 您没有学习者账户", code="learner_not_found")
    return page.principal.learner_id


@router.get("")
async def balance(request: Request, page: UserPage) -> Response:
    learner_id = own_learner(page)
    # On the hot standby, unless the learner's own last write is not replayed there yet.
    async with replica_scope(request, page.principal) as session:
        figures = await ledger_service.account(session, page.principal, learner_id)
        exemptions = await ledger_service.exemptions_for(session, page.principal, learner_id)
        entries = _entries(
            await ledger_service.read_entries(session, page.principal, learner_id, limit=1000)
        )
        outcomes = _outcomes(await rules_service.outcomes_for(session, page.principal, learner_id))
    soon = utc_now() + timedelta(days=90)
    expiring = sum(
        (
            o.credits
            for o in outcomes
            if o.status == "active" and o.expires_at is not None and o.expires_at <= soon
        ),
        Decimal("0.00"),
    )
    chart = line_chart(
        page.t("balance_chart"),
        [
            Series(page.t("banked"), [(e.posted_at, e.banked) for e in entries]),
            Series(page.t("available"), [(e.posted_at, e.available) for e in entries], True),
        ],
    )
    return page.render(
        "learner/balance.html",
        figures=figures,
        expiring=expiring,
        chart=chart,
        exemptions=exemptions,
        target=figures.target_credits,
        entries=entries,
    )


@router.get("/outcomes")
async def outcomes(request: Request, page: UserPage) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).read_scope() as session:
        found = _outcomes(await rules_service.outcomes_for(session, page.principal, learner_id))
    return page.render("learner/outcomes.html", outcomes=found)


@router.get("/ledger")
async def ledger(request: Request, page: UserPage) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).read_scope() as session:
        entries = _entries(
            await ledger_service.read_entries(session, page.principal, learner_id, limit=1000)
        )
    return page.render("learner/ledger.html", entries=entries)


@router.get("/ledger/{entry_id}")
async def ledger_entry(request: Request, page: UserPage, entry_id: uuid.UUID) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).read_scope() as session:
        entries = _entries(
            await ledger_service.read_entries(session, page.principal, learner_id, limit=1000)
        )
        entry = next((e for e in entries if e.id == entry_id), None)
        if entry is None:
            raise NotFound("no such ledger entry / 账目不存在", code="entry_not_found")
        outcome_ids = [uuid.UUID(leg["outcome_id"]) for leg in entry.legs if leg.get("outcome_id")]
        if entry.outcome_id is not None and entry.outcome_id not in outcome_ids:
            outcome_ids.insert(0, entry.outcome_id)
        mine = {o.id for o in await rules_service.outcomes_for(session, page.principal, learner_id)}
        explained: list[dict[str, Any]] = [
            await rules_service.explain_outcome_for(session, page.principal, oid)
            for oid in outcome_ids
            if oid in mine
        ]
    return page.render(
        "learner/entry.html",
        entry=entry,
        explained=explained,
        trace_json=[json.dumps(x.get("trace"), ensure_ascii=False, indent=1) for x in explained],
    )


async def _conversions_page(
    request: Request, page: Page, *, notice: str | None = None, errors: dict[str, str] | None = None
) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).read_scope() as session:
        dry = await conversion_service.options(
            session, page.principal, page.settings, learner_id=learner_id
        )
        applications = [
            ApplicationRead.model_validate(a)
            for a in await conversion_service.of_learner(session, page.principal, learner_id)
        ]
    return page.render(
        "learner/conversions.html",
        status_code=400 if errors else 200,
        options=dry.options,
        applications=applications,
        notice=notice,
        errors=errors or {},
    )


@router.get("/conversions")
async def conversions(request: Request, page: UserPage, done: str | None = None) -> Response:
    return await _conversions_page(request, page, notice=done)


@router.post("/conversions/apply")
async def apply(request: Request, page: UserPage, form: CheckedForm) -> Response:
    learner_id = own_learner(page)
    rule_id = form_text(form, "rule_id")
    if not rule_id:
        return await _conversions_page(request, page, errors={"rule_id": page.t("field_required")})
    async with get_database(request).session_scope() as session:
        await conversion_service.apply(
            session,
            page.principal,
            page.settings,
            learner_id=learner_id,
            rule_id=rule_id,
            note=form_text(form, "note") or None,
        )
    return page.redirect("/me/conversions?done=applied")


@router.post("/applications/{application_id}/withdraw")
async def withdraw(
    request: Request, page: UserPage, form: CheckedForm, application_id: uuid.UUID
) -> Response:
    async with get_database(request).session_scope() as session:
        await conversion_service.withdraw(session, page.principal, application_id)
    return page.redirect("/me/conversions")


@router.post("/applications/{application_id}/appeal")
async def appeal(
    request: Request, page: UserPage, form: CheckedForm, application_id: uuid.UUID
) -> Response:
    reason = form_text(form, "reason")
    if not reason:
        return await _conversions_page(
            request, page, errors={f"appeal-{application_id}": page.t("field_required")}
        )
    async with get_database(request).session_scope() as session:
        await conversion_service.appeal(session, page.principal, application_id, reason=reason)
    return page.redirect("/me/conversions")


@router.get("/inbox")
async def inbox(request: Request, page: UserPage) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).read_scope() as session:
        messages = [
            MessageRead.model_validate(m)
            for m in await inbox_service.messages(session, page.principal, learner_id=learner_id)
        ]
    return page.render("learner/inbox.html", messages=messages)


@router.post("/inbox/{message_id}/read")
async def mark_read(
    request: Request, page: UserPage, form: CheckedForm, message_id: uuid.UUID
) -> Response:
    async with get_database(request).session_scope() as session:
        await inbox_service.mark_read(session, page.principal, message_id)
    return page.redirect("/me/inbox")


async def _links_page(
    request: Request,
    page: Page,
    *,
    issued: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).read_scope() as session:
        learner = await identity_service.get_learner(session, learner_id)
        links = [
            LinkRead.model_validate(link)
            for link in await identity_service.list_links(session, page.principal, learner)
        ]
    return page.render(
        "learner/links.html",
        status_code=400 if errors else 200,
        links=links,
        issued=issued,
        errors=errors or {},
    )


@router.get("/links")
async def links(request: Request, page: UserPage) -> Response:
    return await _links_page(request, page)


@router.post("/links/consent-code")
async def consent_code(request: Request, page: UserPage, form: CheckedForm) -> Response:
    learner_id = own_learner(page)
    key = form_text(form, "institution")
    async with get_database(request).session_scope() as session:
        institution = None
        if key:
            institution = await identity_service.find_institution(session, key)
            if institution is None:
                await session.rollback()
                return await _links_page(request, page, errors={"institution": page.t("error_404")})
        learner = await identity_service.get_learner(session, learner_id)
        consent, code = await identity_service.create_consent_code(
            session,
            page.principal,
            learner,
            keyring=keyring_for(page.settings),
            ttl_seconds=page.settings.identity.consent_code_ttl_seconds,
            institution=institution,
            ip=client_ip(request),
        )
    # The code is shown once, in this answer (never stored in clear, never in a URL).
    return await _links_page(
        request, page, issued={"code": code, "expires_at": consent.expires_at, "institution": key}
    )


@router.get("/export")
async def export(request: Request, page: UserPage) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).session_scope() as session:
        data = await identity_service.export_learner(
            session,
            page.principal,
            learner_id,
            keyring=keyring_for(page.settings),
            ip=client_ip(request),
        )
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return page.finish(
        Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="creditbank-export.json"'},
        )
    )
