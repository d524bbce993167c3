"""Signed transcripts: issue, read by ``Accept``, list, verify; the issuer's public keys.

Thin: the transcripts service decides who may do what and builds, signs and checks.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.auth import ClientIp, CurrentPrincipal, verify_rate_limit
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from creditbank.errors import BadRequest, NotFound
from creditbank.identity.schemas import JwksRead
from creditbank.transcripts import sdjwt
from creditbank.transcripts.fast import report_json
from creditbank.transcripts.models import Transcript
from creditbank.transcripts.schemas import (
    DidDocumentRead,
    JwkRead,
    SdJwtVerifyRequest,
    StatusListRead,
    TranscriptCreate,
    TranscriptRead,
    TranscriptStatusChange,
    TranscriptStatusRead,
    TranscriptSummary,
    VerifyReport,
)
from creditbank.transcripts.service import DID_PATH, JWKS_PATH, KID_PATH, kid_url
from creditbank.transcripts.service import transcripts as transcripts_service
from creditbank.transcripts.shares import shares as shares_service
from creditbank.transcripts.status import REVOCATION, STATUS_PATH, SUSPENSION
from creditbank.transcripts.vcjwt import MAX_TOKEN_BYTES, canonical_json

router = APIRouter(tags=["transcripts"])


class DidJsonResponse(JSONResponse):
    """A DID document's own media type, so the OpenAPI names what is sent."""

    media_type = "application/did+json"


JSON = "application/json"
VC_JWT = "application/vc+jwt"
SD_JWT = sdjwt.MEDIA_TYPE
VC_LD = "application/vc+ld+json"


def _body(transcript: Transcript, settings: Any) -> str:
    """The TranscriptRead JSON with the credential exactly as signed (credits as numbers)."""
    head: dict[str, Any] = {
        "id": str(transcript.id),
        "issued_at": transcript.issued_at.isoformat(),
        "as_of": transcript.as_of.isoformat(),
        "kid": kid_url(settings, transcript.kid),
        "vc_jwt": transcript.vc_jwt,
        "vc_jose": transcript.vc_jose,
        "sd_jwt": transcript.sd_jwt,
    }
    if transcript.sm2 is not None:
        head["sm2"] = transcript.sm2
    return canonical_json(head)[:-1] + ',"credential":' + transcript.credential + "}"


@router.post(
    "/api/v1/learners/{learner_id}/transcripts",
    response_model=TranscriptRead,
    status_code=status.HTTP_201_CREATED,
)
async def issue_transcript(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    body: TranscriptCreate | None = None,
) -> object:
    """Issue a transcript of the learner's record as of now (or ``as_of``), signed as a
    VC-JWT (the learner herself or the operator)."""
    transcript = await transcripts_service.issue(
        session, principal, learner_id, settings=settings, as_of=body.as_of if body else None
    )
    return Response(_body(transcript, settings), status_code=201, media_type=JSON)


@router.get(
    "/api/v1/transcripts/{transcript_id}",
    response_model=TranscriptRead,
    responses={200: {"content": {"text/plain": {}, VC_JWT: {}, VC_LD: {}, SD_JWT: {}}}},
)
async def read_transcript(
    transcript_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    settings: SettingsDep,
) -> object:
    """JSON by default; ``Accept: text/plain`` the VC-JWT, ``application/vc+jwt`` the
    ``typ: vc+jwt`` form."""
    transcript = await transcripts_service.get(session, principal, transcript_id)
    accept = request.headers.get("accept", "")
    if SD_JWT in accept:
        if transcript.sd_jwt is None:  # issued before SD-JWT VCs existed
            raise NotFound("this transcript has no SD-JWT / 此证明没有 SD-JWT", code="no_sd_jwt")
        return Response(transcript.sd_jwt, media_type=SD_JWT)
    if VC_LD in accept:
        return Response(transcript.credential, media_type=VC_LD)
    if VC_JWT in accept:
        return Response(transcript.vc_jose, media_type=VC_JWT)
    if "text/plain" in accept and JSON not in accept:
        return Response(transcript.vc_jwt, media_type="text/plain")
    return Response(_body(transcript, settings), media_type=JSON)


@router.get("/api/v1/learners/{learner_id}/transcripts", response_model=list[TranscriptSummary])
async def list_transcripts(
    learner_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    settings: SettingsDep,
) -> object:
    found = await transcripts_service.of_learner(session, principal, learner_id)
    return [
        TranscriptSummary(
            id=t.id,
            issued_at=t.issued_at,
            as_of=t.as_of,
            kid=kid_url(settings, t.kid),
            units=sorted(
                vc["credentialSubject"]["achievement"]["humanCode"]
                for vc in json.loads(t.credential)["credentialSubject"]["verifiableCredential"]
            ),
        )
        for t in found
    ]


@router.post(
    "/api/v1/verify", response_model=VerifyReport, dependencies=[Depends(verify_rate_limit)]
)
async def verify(request: Request, settings: SettingsDep, session: ReadSessionDep) -> object:
    """Verify a VC-JWT or an SD-JWT VC presentation (no login): the body is the token as
    ``text/plain`` (or ``application/vc+jwt``, ``application/jwt``,
    ``application/dc+sd-jwt``) or JSON ``{"vc_jwt": ..., "sm2"?: ...}`` (with the SM2
    proof of an issue answer, its check is in the report too), or the credential with its
    Data Integrity proof as ``application/vc+ld+json``, or ``{"sd_jwt": ..., "nonce": ...,
    "audience": ...}`` (the KB-JWT must then carry that nonce and audience). The report's
    ``valid`` is true only when every check holds (status included: each
    ``credentialStatus`` entry against the bank's status lists); an SD-JWT's report
    names exactly the disclosed claims."""
    raw = await request.body()
    if len(raw) > MAX_TOKEN_BYTES:
        raise BadRequest(f"body larger than {MAX_TOKEN_BYTES} bytes / 请求体过大", code="too_large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not UTF-8 / 请求体不是 UTF-8", code="unparseable") from exc
    token: str | dict[str, Any]
    if kind in (JSON, "application/ld+json", VC_LD) or (not kind and text.lstrip().startswith("{")):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BadRequest("body is not JSON / 请求体不是 JSON", code="unparseable") from exc
        if isinstance(data, dict) and "sd_jwt" in data:
            try:
                asked = SdJwtVerifyRequest.model_validate(data)
            except ValidationError as exc:
                raise BadRequest(
                    f"sd_jwt, nonce, audience: {exc.errors()[0]['msg']} / 请求体无效",
                    code="unparseable",
                ) from exc
            report = await shares_service.verify_presentation(
                session, settings, asked.sd_jwt, nonce=asked.nonce, audience=asked.audience
            )
            return Response(canonical_json(report), media_type=JSON)
        # A credential with embedded Data Integrity proofs, or {"vc_jwt": ...}.
        is_ld = isinstance(data, dict) and (kind == VC_LD or "@context" in data)
        found = data if is_ld else data.get("vc_jwt") if isinstance(data, dict) else None
        if not isinstance(found, str | dict):
            raise BadRequest("vc_jwt: a string is required / 需要 vc_jwt", code="unparseable")
        token = found
        sm2 = data.get("sm2") if not is_ld else None
    else:
        token, sm2 = text, None
    if isinstance(token, str) and (kind == SD_JWT or sdjwt.is_sd_jwt(token)):
        report = await shares_service.verify_presentation(session, settings, token)
        return Response(canonical_json(report), media_type=JSON)
    report = await transcripts_service.verify_published(session, settings, token, sm2=sm2)
    return Response(report_json(report), media_type=JSON)


_STATUS_CHANGES = {
    "revoke": (REVOCATION, True),
    "suspend": (SUSPENSION, True),
    "unsuspend": (SUSPENSION, False),
}


async def _change_status(
    change: str,
    transcript_id: uuid.UUID,
    principal: Any,
    session: Any,
    ip: str,
    body: TranscriptStatusChange | None,
) -> object:
    purpose, value = _STATUS_CHANGES[change]
    return await transcripts_service.change_status(
        session,
        principal,
        transcript_id,
        purpose=purpose,
        value=value,
        reason=body.reason if body else None,
        ip=ip,
    )


@router.post("/api/v1/transcripts/{transcript_id}/revoke", response_model=TranscriptStatusRead)
async def revoke_transcript(
    transcript_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
    body: TranscriptStatusChange | None = None,
) -> object:
    """Revoke a transcript and its shares for good (the learner herself or the operator):
    its revocation bit is set in its status list."""
    return await _change_status("revoke", transcript_id, principal, session, ip, body)


@router.post("/api/v1/transcripts/{transcript_id}/suspend", response_model=TranscriptStatusRead)
async def suspend_transcript(
    transcript_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
    body: TranscriptStatusChange | None = None,
) -> object:
    """Suspend a transcript and its shares until the suspension is lifted."""
    return await _change_status("suspend", transcript_id, principal, session, ip, body)


@router.post("/api/v1/transcripts/{transcript_id}/unsuspend", response_model=TranscriptStatusRead)
async def unsuspend_transcript(
    transcript_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ip: ClientIp,
    body: TranscriptStatusChange | None = None,
) -> object:
    """Lift a transcript's suspension (a revocation stays)."""
    return await _change_status("unsuspend", transcript_id, principal, session, ip, body)


@router.get(
    STATUS_PATH + "{list_id}",
    response_model=StatusListRead,
    responses={200: {"content": {"text/plain": {}, VC_JWT: {}, JSON: {}}}},
)
async def status_list(
    list_id: str, request: Request, session: ReadSessionDep, settings: SettingsDep
) -> object:
    """A Bitstring Status List credential (no login), signed as a VC-JWT: ``text/plain``
    (or ``application/jwt``, the default) ``typ: JWT``, ``application/vc+jwt`` the
    ``typ: vc+jwt`` form, ``application/json`` both tokens and the credential. Cacheable
    for its ``ttl``."""
    signed = await transcripts_service.status_list(session, settings, list_id)
    headers = {"Cache-Control": f"public, max-age={signed.ttl_seconds}"}
    accept = request.headers.get("accept", "")
    if VC_JWT in accept:
        return Response(signed.vc_jose, media_type=VC_JWT, headers=headers)
    if JSON in accept or "application/ld+json" in accept:
        body = {"vc_jwt": signed.vc_jwt, "vc_jose": signed.vc_jose, "credential": signed.credential}
        return Response(canonical_json(body), media_type=JSON, headers=headers)
    return Response(signed.vc_jwt, media_type="text/plain", headers=headers)


@router.get(JWKS_PATH, response_model=JwksRead)
async def jwks(settings: SettingsDep) -> object:
    """The transcript issuer's public keys, current and retired (each kid its URL)."""
    return transcripts_service.jwks(settings)


@router.get(DID_PATH, response_model=DidDocumentRead, response_class=DidJsonResponse)
async def did_document(settings: SettingsDep) -> object:
    """The bank's ``did:web`` DID document: every issuer key, current and retired, as a
    verification method (what Data Integrity proofs name)."""
    return Response(
        canonical_json(transcripts_service.did_document(settings)),
        media_type=DidJsonResponse.media_type,
    )


@router.get(KID_PATH + "{kid}", response_model=JwkRead)
async def jwk(kid: str, settings: SettingsDep) -> object:
    """One issuer key as a JWK (what a VC-JWT's ``kid`` URL returns)."""
    return transcripts_service.jwk(settings, kid)
