"""The certifier's pages: the review queue and an application with its evidence."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import get_database
from api.portal.web import CheckedForm, Page, UserPage, form_text
from creditbank.conversions.schemas import ApplicationRead, DecisionCreate, ReviewRead
from creditbank.conversions.service import conversions as conversion_service
from creditbank.identity.service import identity as identity_service
from creditbank.kit.time import utc_now

router = APIRouter(prefix="/certify", include_in_schema=False)

SORTS = {
    "oldest": (lambda a: a.created_at, False),
    "newest": (lambda a: a.created_at, True),
    "credits": (lambda a: a.credits, True),
}


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


@router.get("")
async def queue(
    request: Request,
    page: UserPage,
    institution: str = "",
    programme: str = "",
    min_age_days: str = "",
    min_credits: str = "",
    sort: str = "oldest",
) -> Response:
    async with get_database(request).read_scope() as session:
        applications = [
            ApplicationRead.model_validate(a)
            for a in await conversion_service.queue(session, page.principal, limit=500)
        ]
    institutions = sorted({a.target_institution_key for a in applications})
    programmes = sorted({a.programme for a in applications})
    shown = [
        a
        for a in applications
        if (not institution or a.target_institution_key == institution)
        and (not programme or a.programme == programme)
    ]
    errors: dict[str, str] = {}
    if min_age_days:
        if not min_age_days.isdigit():
            errors["min_age_days"] = page.t("field_required")
        else:
            cutoff = utc_now() - timedelta(days=int(min_age_days))
            shown = [a for a in shown if a.created_at <= cutoff]
    least = _decimal(min_credits)
    if min_credits and least is None:
        errors["min_credits"] = page.t("field_required")
    elif least is not None:
        shown = [a for a in shown if a.credits >= least]
    key, reverse = SORTS.get(sort, SORTS["oldest"])
    shown.sort(key=key, reverse=reverse)
    return page.render(
        "certifier/queue.html",
        applications=shown,
        institutions=institutions,
        programmes=programmes,
        filters={
            "institution": institution,
            "programme": programme,
            "min_age_days": min_age_days,
            "min_credits": min_credits,
            "sort": sort,
        },
        errors=errors,
    )


async def _application_page(
    request: Request,
    page: Page,
    application_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    async with get_database(request).read_scope() as session:
        application = ApplicationRead.model_validate(
            await conversion_service.get(session, page.principal, application_id)
        )
        reviews = [
            ReviewRead.model_validate(r)
            for r in await conversion_service.reviews(session, page.principal, application_id)
        ]
        evidence: list[dict[str, Any]] = []
        for outcome, explained in await conversion_service.evidence(
            session, page.principal, application_id
        ):
            found = await identity_service.find_institution(session, outcome.institution_key)
            source = (
                {
                    "name_zh": found.name_zh,
                    "name_en": found.name_en,
                    "accredited": found.accredited,
                    "accredited_from": found.accredited_from,
                    "accredited_until": found.accredited_until,
                }
                if found is not None
                else None
            )
            evidence.append(
                {
                    "outcome": outcome,
                    "explained": explained,
                    "institution": source,
                    "trace": json.dumps(explained.get("trace"), ensure_ascii=False, indent=1),
                }
            )
    approvals = sum(1 for r in reviews if r.decision == "approve")
    return page.render(
        "certifier/application.html",
        status_code=400 if errors else 200,
        application=application,
        reviews=reviews,
        evidence=evidence,
        approvals=approvals,
        errors=errors or {},
        values=values or {},
        notice=notice,
    )


@router.get("/{application_id}")
async def application(
    request: Request, page: UserPage, application_id: uuid.UUID, done: str | None = None
) -> Response:
    return await _application_page(request, page, application_id, notice=done)


@router.post("/{application_id}/decision")
async def decide(
    request: Request, page: UserPage, form: CheckedForm, application_id: uuid.UUID
) -> Response:
    decision = form_text(form, "decision")
    reason = form_text(form, "reason")
    errors: dict[str, str] = {}
    if decision not in ("approve", "reject"):
        errors["decision"] = page.t("choose_decision")
    if not reason:
        errors["reason"] = page.t("field_required")
    if errors:
        return await _application_page(
            request,
            page,
            application_id,
            errors=errors,
            values={"decision": decision, "reason": reason},
        )
    async with get_database(request).session_scope() as session:
        await conversion_service.review(
            session,
            page.principal,
            page.settings,
            application_id,
            decision=DecisionCreate(decision=decision, reason=reason).decision,
            reason=reason,
        )
    return page.redirect(f"/certify/{application_id}?done=decided")
