"""The employer's verify page (no login): paste a transcript or upload its file, or open
a transcript's QR link or a share's link; shows what is proven, by whom, whether it
still holds, and only what was disclosed.

The report is the transcripts service's (the one ``POST /api/v1/verify`` answers);
input that cannot be read is a "not valid" with its reason, never an error page.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.deps import get_database
from api.portal import transcript_view
from api.portal.pages.transcripts import status_of, verified
from api.portal.web import AnyPage, CheckedForm, Page, form_text
from creditbank.errors import DomainError, NotFound
from creditbank.transcripts.service import transcripts as transcripts_service
from creditbank.transcripts.shares import shares as shares_service
from creditbank.transcripts.vcjwt import MAX_TOKEN_BYTES

log = logging.getLogger("creditbank.portal")
router = APIRouter(prefix="/verify", include_in_schema=False)

#: Members of a pasted JSON object that may hold the presented transcript.
TOKEN_MEMBERS = ("vc_jwt", "vc_jose", "sd_jwt", "presentation", "token")


class Unreadable(Exception):
    """What was given is no transcript this page can read (the reason is shown)."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.detail = detail


def token_of(text: str) -> str:
    """The compact token in a pasted or uploaded transcript (as is, or inside JSON)."""
    text = text.strip().lstrip("\ufeff")
    if not text.startswith("{"):
        return text
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Unreadable("verify_not_json") from exc
    if isinstance(data, dict):
        for name in TOKEN_MEMBERS:
            if isinstance(data.get(name), str):
                return str(data[name])
    raise Unreadable("verify_no_token")


def failed(reason_key: str, detail: str = "") -> dict[str, Any]:
    """A report of input that could not even be checked."""
    return {
        "valid": False,
        "checks": {},
        "errors": [detail] if detail else [],
        "reason": reason_key,
    }


async def report_of(page: Page, token: str) -> dict[str, Any]:
    try:
        return await verified(page, token)
    except DomainError as exc:
        return failed("verify_unparseable", str(exc.detail))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # A verifier bug on odd input is still a plain "not valid" for the employer.
        log.warning("verify page: unreadable input", extra={"error": repr(exc)})
        return failed("verify_unparseable")


def show(
    page: Page, report: dict[str, Any] | None, *, status_code: int = 200, **context: Any
) -> Response:
    credential = report.get("credential") if report else None
    return page.render(
        "verify.html",
        status_code=status_code,
        report=report,
        status=status_of(report) if report else None,
        view=transcript_view.read(credential) if isinstance(credential, dict) else None,
        errors=context.pop("errors", {}),
        **context,
    )


@router.get("")
async def verify_form(page: AnyPage) -> Response:
    return show(page, None)


async def _uploaded(form: Any) -> str:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return ""
    data = await upload.read(MAX_TOKEN_BYTES + 1)
    if len(data) > MAX_TOKEN_BYTES:
        raise Unreadable("verify_too_large")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable("verify_not_text") from exc


@router.post("")
async def verify_given(page: AnyPage, form: CheckedForm) -> Response:
    try:
        text = await _uploaded(form) or form_text(form, "transcript")
        if not text.strip():
            return show(page, None, status_code=400, errors={"transcript": page.t("verify_empty")})
        if len(text) > MAX_TOKEN_BYTES:
            raise Unreadable("verify_too_large")
        report = await report_of(page, token_of(text))
    except Unreadable as exc:
        report = failed(exc.key, exc.detail)
    return show(page, report)


@router.get("/shares/{share_id}")
async def verify_share(request: Request, page: AnyPage, share_id: uuid.UUID) -> Response:
    """A share's link: its SD-JWT verified as ``POST /api/v1/verify`` verifies one
    (signature, issuer key, status lists, expiry, the share's own state). Only what the
    share disclosed is in it, and even that is shown only while the share holds."""
    from api.portal.app import error_page  # the portal app imports this module

    try:
        async with get_database(request).read_scope() as session:
            report = await shares_service.verify_by_link(session, page.settings, share_id)
    except NotFound:
        return page.finish(error_page(request, 404, "verify_share_unknown"))
    signed = bool(report.get("checks", {}).get("signature", {}).get("valid"))
    credential = report.get("credential")
    return page.render(
        "verify_share.html",
        report=report,
        status=status_of(report),
        share_id=share_id,
        # Only the bank's own keys verify here: a signature that holds is the bank's.
        issuer_name=page.t("verify_share_bank_name") if signed else "",
        view=transcript_view.read(credential)
        if report.get("valid") and isinstance(credential, dict)
        else None,
    )


@router.get("/{transcript_id}")
async def verify_link(request: Request, page: AnyPage, transcript_id: uuid.UUID) -> Response:
    """The QR target: the verification of that transcript's signed form."""
    try:
        async with get_database(request).read_scope() as session:
            token = await transcripts_service.signed_form_by_link(session, transcript_id)
    except NotFound:
        return show(page, failed("verify_unknown_id"), status_code=404, linked=transcript_id)
    return show(page, await report_of(page, token), linked=transcript_id)
