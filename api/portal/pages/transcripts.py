"""The learner's transcripts: list, issue, the human view, the signed file and the PDF,
and her shares of one (selectively disclosed SD-JWT VCs): create, list, revoke.

Through the transcripts and shares services as ``/api/v1`` does (``transcript.issue``,
``transcript.read``, ``transcript.share`` and ``transcript.share_revoke`` are decided
there); a transcript is looked up inside her own records, so another learner's id is
simply not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api.deps import get_database
from api.portal import transcript_pdf, transcript_view
from api.portal.pages.learner import own_learner
from api.portal.web import CheckedForm, Page, UserPage, form_text
from creditbank.errors import BadRequest, NotFound
from creditbank.kit.time import utc_now
from creditbank.transcripts.schemas import ShareCreate
from creditbank.transcripts.sdjwt import MEDIA_TYPE as SD_JWT_MEDIA_TYPE
from creditbank.transcripts.service import issuer_id
from creditbank.transcripts.service import transcripts as transcripts_service
from creditbank.transcripts.shares import shares as shares_service

router = APIRouter(prefix="/me/transcripts", include_in_schema=False)


def verify_url(page: Page, transcript_id: uuid.UUID | str) -> str:
    """The public verify page of a transcript (what its QR code opens)."""
    return f"{issuer_id(page.settings)}/verify/{transcript_id}"


def share_url(page: Page, share_id: uuid.UUID | str) -> str:
    """The public verify page of a share (the link she gives the employer)."""
    return f"{issuer_id(page.settings)}/verify/shares/{share_id}"


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


@dataclass(frozen=True)
class ShareRow:
    """A line of "my shares" (read before its session closes)."""

    id: uuid.UUID
    created_at: datetime
    audience: str | None
    expires_at: datetime | None
    disclosed: dict[str, list[str]]
    state: str


def share_state(
    revoked_at: datetime | None, expires_at: datetime | None, transcript_status: str, now: datetime
) -> str:
    """``active``, ``expired``, ``revoked`` or ``suspended`` (the transcript's revocation
    and suspension hold for its shares too)."""
    if revoked_at is not None or transcript_status == "revoked":
        return "revoked"
    if transcript_status == "suspended":
        return "suspended"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


@dataclass
class ShareForm:
    """What the share form asked for (kept to fill the form again when it is refused)."""

    outcomes: list[str] = field(default_factory=list)
    conversions: list[str] = field(default_factory=list)
    personal: list[str] = field(default_factory=list)
    audience: str = ""
    expires: str = ""


#: The personal claims a share may disclose (the form's ``personal`` boxes).
PERSONAL_CHOICES = ("credit_totals", "sub")
AUDIENCE_MAX = 500
#: The shares service's refusals shown as a field's error: code -> (field, message key).
SERVICE_REFUSALS = {
    "share_expired": ("expires", "share_expiry_past"),
    "share_unknown_claim": ("disclose", "share_unknown_claim"),
}


def _chosen(form: FormData, name: str) -> list[str]:
    return sorted({v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()})


def read_share_form(
    page: Page, form: FormData
) -> tuple[ShareForm, ShareCreate | None, dict[str, str]]:
    """The form as asked, the share to create (None when refused) and the field errors
    in her language."""
    asked = ShareForm(
        outcomes=_chosen(form, "outcome"),
        conversions=_chosen(form, "conversion"),
        personal=[p for p in _chosen(form, "personal") if p in PERSONAL_CHOICES],
        audience=form_text(form, "audience"),
        expires=form_text(form, "expires"),
    )
    errors: dict[str, str] = {}
    if not (asked.outcomes or asked.conversions or asked.personal):
        errors["disclose"] = page.t("share_choose_one")
    if len(asked.audience) > AUDIENCE_MAX:
        errors["audience"] = page.t("share_audience_too_long", n=AUDIENCE_MAX)
    expires_at: datetime | None = None
    if not asked.expires:
        errors["expires"] = page.t("share_expiry_required")
    else:
        try:
            day = date.fromisoformat(asked.expires)
        except ValueError:
            errors["expires"] = page.t("share_expiry_invalid")
        else:
            if day <= utc_now().date():
                errors["expires"] = page.t("share_expiry_past")
            else:
                # Valid through the chosen day (UTC, as the portal's times are shown).
                expires_at = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    if errors:
        return asked, None, errors
    return (
        asked,
        ShareCreate(
            outcomes=asked.outcomes,
            conversions=asked.conversions,
            personal=asked.personal,  # checked against PERSONAL_CHOICES
            audience=asked.audience or None,
            expires_at=expires_at,
        ),
        {},
    )


async def own_shares(
    request: Request, page: Page, transcript_id: uuid.UUID, transcript_status: str
) -> list[ShareRow]:
    async with get_database(request).read_scope() as session:
        found = await shares_service.of_transcript(session, page.principal, transcript_id)
        now = utc_now()
        return [
            ShareRow(
                id=s.id,
                created_at=s.created_at,
                audience=s.audience,
                expires_at=s.expires_at,
                disclosed={
                    name: [str(v) for v in s.disclosed.get(name, [])]
                    for name in ("outcomes", "conversions", "personal")
                },
                state=share_state(s.revoked_at, s.expires_at, transcript_status, now),
            )
            for s in sorted(found, key=lambda s: s.created_at, reverse=True)
        ]


async def transcript_page(
    request: Request,
    page: Page,
    transcript_id: uuid.UUID,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    asked: ShareForm | None = None,
    created: dict[str, str] | None = None,
) -> Response:
    """The human view of her transcript and her shares of it (with the share form's
    errors, when it had any, or the share just created, shown this once)."""
    found = await own_transcript(request, page, transcript_id)
    report = await verified(page, found.vc_jwt)
    status = status_of(report)
    return page.render(
        "learner/transcript.html",
        status_code=400 if errors else 200,
        transcript=found,
        view=transcript_view.read(found.credential),
        report=report,
        status=status,
        verify_url=verify_url(page, found.id),
        notice=notice,
        errors=errors or {},
        asked=asked or ShareForm(),
        created=created,
        shares=await own_shares(request, page, found.id, status),
    )


@router.get("/{transcript_id}")
async def transcript(
    request: Request, page: UserPage, transcript_id: uuid.UUID, done: str | None = None
) -> Response:
    return await transcript_page(request, page, transcript_id, notice=done)


@router.post("/{transcript_id}/shares")
async def create_share(
    request: Request, page: UserPage, form: CheckedForm, transcript_id: uuid.UUID
) -> Response:
    """Share the transcript disclosing only what she ticked, until the day she chose;
    the link (and the SD-JWT) is shown on the answer."""
    await own_transcript(request, page, transcript_id)
    asked, payload, errors = read_share_form(page, form)
    if payload is None:
        return await transcript_page(request, page, transcript_id, errors=errors, asked=asked)
    try:
        async with get_database(request).session_scope() as session:
            share = await shares_service.create(
                session, page.principal, transcript_id, payload, settings=page.settings
            )
            created = {"id": str(share.id), "sd_jwt": share.sd_jwt}
    except BadRequest as exc:
        # What the form cannot catch (a claim no longer in it, a moment just past).
        if exc.code not in SERVICE_REFUSALS:
            raise
        name, key = SERVICE_REFUSALS[exc.code]
        return await transcript_page(
            request, page, transcript_id, errors={name: page.t(key)}, asked=asked
        )
    created["url"] = share_url(page, created["id"])
    return await transcript_page(
        request, page, transcript_id, notice="share_created_done", created=created
    )


@router.get("/{transcript_id}/shares/{share_id}.sd-jwt")
async def share_file(
    request: Request, page: UserPage, transcript_id: uuid.UUID, share_id: uuid.UUID
) -> Response:
    """Her share's SD-JWT as a file (while it is not revoked, as the API's share URL)."""
    await own_transcript(request, page, transcript_id)
    async with get_database(request).read_scope() as session:
        found = await shares_service.of_transcript(session, page.principal, transcript_id)
        token = next((s.sd_jwt for s in found if s.id == share_id and s.revoked_at is None), None)
    if token is None:
        raise NotFound(f"no share {share_id} / 分享不存在或已撤销", code="share_not_found")
    return page.finish(
        Response(
            token,
            media_type=SD_JWT_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="share-{share_id}.sd-jwt"'},
        )
    )


@router.post("/{transcript_id}/shares/{share_id}/revoke")
async def revoke_share(
    request: Request,
    page: UserPage,
    form: CheckedForm,
    transcript_id: uuid.UUID,
    share_id: uuid.UUID,
) -> Response:
    """Revoke one of her shares: its status bit is set, its link then says revoked."""
    await own_transcript(request, page, transcript_id)
    async with get_database(request).session_scope() as session:
        await shares_service.revoke(session, page.principal, transcript_id, share_id)
    return page.redirect(f"/me/transcripts/{transcript_id}?done=share_revoked#share-{share_id}")
