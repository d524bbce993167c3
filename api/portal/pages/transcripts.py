"""The learner's transcripts: list, issue, the human view, the signed file and the PDF.

Through the transcripts service as ``/api/v1`` does (``transcript.issue`` and
``transcript.read`` are decided there); a transcript is looked up inside her own
records, so another learner's id is simply not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import get_database
from api.portal import transcript_pdf, transcript_view
from api.portal.pages.learner import own_learner
from api.portal.web import CheckedForm, Page, UserPage
from creditbank.errors import NotFound
from creditbank.transcripts.service import issuer_id
from creditbank.transcripts.service import transcripts as transcripts_service

router = APIRouter(prefix="/me/transcripts", include_in_schema=False)


def verify_url(page: Page, transcript_id: uuid.UUID | str) -> str:
    """The public verify page of a transcript (what its QR code opens)."""
    return f"{issuer_id(page.settings)}/verify/{transcript_id}"


def status_of(report: dict[str, Any]) -> str:
    """``valid``, ``revoked``, ``suspended``, ``expired``, ``unknown`` (the status could
    not be checked) or ``invalid``: the key of its word."""
    if report.get("valid"):
        return "valid"
    if report.get("status") in ("revoked", "suspended"):
        return str(report["status"])
    status = report.get("checks", {}).get("status")
    if isinstance(status, dict):
        for word in ("revoked", "suspended"):
            if status.get(word) or status.get("status") == word:
                return word
    checks = report.get("checks", {})
    validity = checks.get("validity")
    if isinstance(validity, dict) and validity.get("valid") is False:
        return "expired"
    others = [c for name, c in checks.items() if name != "status" and isinstance(c, dict)]
    if report.get("status") == "unknown" and others and all(c.get("valid") for c in others):
        return "unknown"
    return "invalid"


async def verified(page: Page, token: str) -> dict[str, Any]:
    """The verification report, the status checked against the bank's own lists."""
    async with get_database(page.request).read_scope() as session:
        return await transcripts_service.verify_published(session, page.settings, token)


@dataclass(frozen=True)
class Signed:
    """What the pages show of a transcript (read before its session closes)."""

    id: uuid.UUID
    issued_at: datetime
    as_of: datetime
    kid: str
    alg: str
    credential: str
    vc_jwt: str


async def own_transcript(request: Request, page: Page, transcript_id: uuid.UUID) -> Signed:
    learner_id = own_learner(page)
    async with get_database(request).read_scope() as session:
        found = await transcripts_service.get(session, page.principal, transcript_id)
        if found.learner_id != learner_id:
            raise NotFound(
                f"no transcript {transcript_id} / 证明不存在", code="transcript_not_found"
            )
        return Signed(
            id=found.id,
            issued_at=found.issued_at,
            as_of=found.as_of,
            kid=found.kid,
            alg=found.alg,
            credential=found.credential,
            vc_jwt=found.vc_jwt,
        )


@router.get("")
async def transcripts(request: Request, page: UserPage, done: str | None = None) -> Response:
    learner_id = own_learner(page)
    rows = []
    async with get_database(request).read_scope() as session:
        found = await transcripts_service.of_learner(session, page.principal, learner_id)
        signed = [(t.id, t.issued_at, t.as_of, t.credential, t.vc_jwt) for t in found]
    for t_id, issued_at, as_of, credential, vc_jwt in signed:
        view = transcript_view.read(credential)
        report = await verified(page, vc_jwt)
        rows.append(
            {
                "id": t_id,
                "issued_at": issued_at,
                "as_of": as_of,
                "outcomes": len(view.outcomes) if view else 0,
                "banked": view.totals.get("banked") if view else None,
                "status": status_of(report),
            }
        )
    return page.render("learner/transcripts.html", rows=rows, notice=done)


@router.post("")
async def issue(request: Request, page: UserPage, form: CheckedForm) -> Response:
    learner_id = own_learner(page)
    async with get_database(request).session_scope() as session:
        transcript = await transcripts_service.issue(
            session, page.principal, learner_id, settings=page.settings
        )
        transcript_id = transcript.id
    return page.redirect(f"/me/transcripts/{transcript_id}?done=transcript_issued")


@router.get("/{transcript_id}.jwt")
async def signed_file(request: Request, page: UserPage, transcript_id: uuid.UUID) -> Response:
    transcript = await own_transcript(request, page, transcript_id)
    return page.finish(
        Response(
            transcript.vc_jwt,
            media_type="application/jwt",
            headers={
                "Content-Disposition": f'attachment; filename="transcript-{transcript.id}.jwt"'
            },
        )
    )


@router.get("/{transcript_id}.pdf")
async def pdf(request: Request, page: UserPage, transcript_id: uuid.UUID) -> Response:
    transcript = await own_transcript(request, page, transcript_id)
    view = transcript_view.read(transcript.credential)
    if view is None:
        raise NotFound("no readable credential / 证明无法读取", code="transcript_not_found")
    status = status_of(await verified(page, transcript.vc_jwt))
    body = transcript_pdf.render(
        view,
        verify_url=verify_url(page, transcript.id),
        issued_at=transcript.issued_at,
        status=f"{page.t('tstatus_' + status)} / {page.t_other('tstatus_' + status)}",
    )
    return page.finish(
        Response(
            body,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="transcript-{transcript.id}.pdf"'
            },
        )
    )


async def transcript_page(
    request: Request,
    page: Page,
    transcript_id: uuid.UUID,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """The human view of her transcript (with the share form's errors, when it had any)."""
    found = await own_transcript(request, page, transcript_id)
    report = await verified(page, found.vc_jwt)
    return page.render(
        "learner/transcript.html",
        status_code=400 if errors else 200,
        transcript=found,
        view=transcript_view.read(found.credential),
        report=report,
        status=status_of(report),
        verify_url=verify_url(page, found.id),
        notice=notice,
        errors=errors or {},
        shares=None,
    )


@router.get("/{transcript_id}")
async def transcript(
    request: Request, page: UserPage, transcript_id: uuid.UUID, done: str | None = None
) -> Response:
    return await transcript_page(request, page, transcript_id, notice=done)
