"""Selectively disclosed shares of a transcript (SD-JWT VC presentations) and their
verification.

A share is a fresh issuer-signed SD-JWT of the transcript's credential (its ``jti``
the share's URN, its ``exp`` the share's expiry, ``cnf.jwk`` the holder key she
gave, fresh salts so two verifiers cannot link their shares by disclosure), followed
by only the disclosures she chose. Each share has its own Bitstring Status List entries
(revocation and suspension, allocated in the transaction that creates it) in the
always-disclosed ``credentialStatus`` claim; they belong to the transcript too, so
revoking or suspending the transcript sets its shares' bits as well. She (or the
operator) revokes a share: its revocation bit is set (and ``revoked_at`` stored) in one
transaction, so any verifier holding the status list, offline included, sees it.

Authorization through :mod:`creditbank.identity.authz`: ``transcript.share`` (the
learner herself), ``transcript.share_revoke`` (she or the operator), listing with
``transcript.read``. Each share and revocation is audited (ids and counts only).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.config import Settings
from creditbank.errors import BadRequest, Conflict, NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.kit import signing
from creditbank.kit.time import utc_now
from creditbank.transcripts import sdjwt, status
from creditbank.transcripts.models import Transcript, TranscriptShare
from creditbank.transcripts.repository import ShareRepository, TranscriptRepository
from creditbank.transcripts.schemas import ShareCreate, ShareRead
from creditbank.transcripts.service import issuer_id, kid_url
from creditbank.transcripts.service import transcripts as transcripts_service

SHARES_PATH = "/api/v1/shares/"


def _holder_jwk(jwk: dict[str, Any] | None) -> dict[str, Any] | None:
    """The public members of the holder's JWK; refused when it is no public key we know."""
    if jwk is None:
        return None
    if "d" in jwk or any(k in jwk for k in ("p", "q", "dp", "dq", "qi")):
        raise BadRequest(
            "holder_jwk: send the public key only / 只需提供公钥", code="holder_key_private"
        )
    kty = jwk.get("kty")
    alg = {"EC": "ES256", "OKP": "EdDSA", "RSA": "RS256"}.get(str(kty))
    try:
        if alg is None:
            raise ValueError(f"kty {kty!r}")
        signing.algorithm(alg).load_public_jwk(jwk)
    except (ValueError, KeyError, TypeError, signing.SigningKeyError) as exc:
        raise BadRequest(
            f"holder_jwk: not a P-256, Ed25519 or RSA public key ({exc}) / 持有者公钥无效",
            code="holder_key_invalid",
        ) from exc
    members = {"EC": ("kty", "crv", "x", "y"), "OKP": ("kty", "crv", "x"), "RSA": ("kty", "n", "e")}
    return {k: jwk[k] for k in members[str(kty)] if k in jwk}


class TranscriptShareService:
    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        transcript_id: uuid.UUID,
        payload: ShareCreate,
        *,
        settings: Settings,
    ) -> TranscriptShare:
        transcript = await self._transcript(session, transcript_id)
        authz.authorize(
            principal, "transcript.share", authz.Resource(learner_id=transcript.learner_id)
        )
        now = utc_now()
        if payload.expires_at is not None and payload.expires_at <= now:
            raise BadRequest("expires_at: in the past / 过期时间早于现在", code="share_expired")
        credential = _credential(transcript)
        selection = sdjwt.Selection.of(
            outcomes=payload.outcomes, conversions=payload.conversions, personal=payload.personal
        )
        unknown = sdjwt.unknown_choices(credential, selection)
        if unknown:
            raise BadRequest(
                f"not in this transcript: {', '.join(unknown)} / 证明中没有这些内容",
                code="share_unknown_claim",
            )
        bits = await status.statuses(session, transcript.id)
        if bits.get(status.REVOCATION):
            raise Conflict(
                "the transcript is revoked: it cannot be shared / 证明已撤销，不能分享",
                code="transcript_revoked",
            )
        share_id = uuid.uuid4()
        entries = await status.allocate_entries(
            session,
            issuer=issuer_id(settings),
            transcript_id=transcript.id,
            share_id=share_id,
            now=now,
        )
        key = transcripts_service.sd_key(settings)
        share = TranscriptShare(
            id=share_id,
            transcript_id=transcript.id,
            learner_id=transcript.learner_id,
            created_at=now,
            created_by=principal.id,
            audience=payload.audience,
            expires_at=payload.expires_at,
            disclosed={
                "outcomes": sorted(set(payload.outcomes)),
                "conversions": sorted(set(payload.conversions)),
                "personal": sorted(set(payload.personal)),
            },
            kid=key.kid,
            key_bound=payload.holder_jwk is not None,
            sd_jwt=sdjwt.issue(
                credential,
                key,
                kid_url(settings, key.kid),
                jti=f"urn:uuid:{share_id}",
                vct=sdjwt.vct_of(issuer_id(settings)),
                issued_at=now,
                expires_at=payload.expires_at,
                holder_jwk=_holder_jwk(payload.holder_jwk),
                selection=selection,
                credential_status=entries,
            ),
        )
        await ShareRepository.from_session(session).add(share)
        if bits.get(status.SUSPENSION):
            # Shared while suspended: suspended with it (lifting the transcript's
            # suspension lifts the share's too).
            await status.set_share_status(session, share_id, status.SUSPENSION, now=now)
        await audit_service.record(
            session,
            actor=principal,
            action="transcript.share",
            object_type="transcript_share",
            object_id=share.id,
            detail={
                "transcript_id": str(transcript.id),
                "outcomes": len(share.disclosed["outcomes"]),
                "conversions": len(share.disclosed["conversions"]),
                "personal": len(share.disclosed["personal"]),
                "key_bound": payload.holder_jwk is not None,
            },
        )
        return share

    async def of_transcript(
        self, session: AsyncSession, principal: Principal, transcript_id: uuid.UUID
    ) -> list[TranscriptShare]:
        transcript = await self._transcript(session, transcript_id)
        authz.authorize(
            principal, "transcript.read", authz.Resource(learner_id=transcript.learner_id)
        )
        return await ShareRepository.from_session(session).of_transcript(transcript.id)

    async def revoke(
        self,
        session: AsyncSession,
        principal: Principal,
        transcript_id: uuid.UUID,
        share_id: uuid.UUID,
    ) -> TranscriptShare:
        """Revoke a share (revoking it again changes nothing): its revocation bit is set
        in its status list and ``revoked_at`` stored, in the caller's transaction."""
        transcript = await self._transcript(session, transcript_id)
        authz.authorize(
            principal, "transcript.share_revoke", authz.Resource(learner_id=transcript.learner_id)
        )
        share = await ShareRepository.from_session(session).get(share_id)
        if share is None or share.transcript_id != transcript.id:
            raise NotFound(f"no share {share_id} / 分享不存在", code="share_not_found")
        if share.revoked_at is None:
            share.revoked_at = utc_now()
            share.revoked_by = principal.id
            await session.flush()
            changed = await status.set_share_status(
                session, share.id, status.REVOCATION, now=share.revoked_at
            )
            await audit_service.record(
                session,
                actor=principal,
                action="transcript.share_revoke",
                object_type="transcript_share",
                object_id=share.id,
                detail={"transcript_id": str(transcript.id), "entries_changed": changed},
            )
        return share

    async def change_status(
        self,
        session: AsyncSession,
        principal: Principal,
        transcript_id: uuid.UUID,
        share_id: uuid.UUID,
        *,
        suspended: bool,
        reason: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Suspend one share, or reinstate it (the learner herself or the operator): its
        suspension bit, in the caller's transaction; audited, refusals too. A share of a
        suspended transcript is not reinstated on its own (lift the transcript's
        suspension); a revoked share stays revoked. Returns the share's statuses."""
        action = "transcript.share_suspend" if suspended else "transcript.share_unsuspend"
        async with audit_service.refusals(
            session, actor=principal, action=action, object_type="transcript_share",
            object_id=share_id, ip=ip,
        ):  # fmt: skip
            transcript = await self._transcript(session, transcript_id)
            authz.authorize(
                principal,
                "transcript.share_status",
                authz.Resource(learner_id=transcript.learner_id),
            )
            share = await ShareRepository.from_session(session).get(share_id)
            if share is None or share.transcript_id != transcript.id:
                raise NotFound(f"no share {share_id} / 分享不存在", code="share_not_found")
            if not suspended and (await status.statuses(session, transcript.id)).get(
                status.SUSPENSION
            ):
                raise Conflict(
                    "the transcript is suspended: lift its suspension first / "
                    "证明已暂停，请先恢复证明",
                    code="transcript_suspended",
                )
        now = utc_now()
        share.suspended_at = now if suspended else None
        share.suspended_by = principal.id if suspended else None
        await session.flush()
        changed = await status.set_share_status(
            session, share.id, status.SUSPENSION, value=suspended, now=now
        )
        await audit_service.record(
            session,
            actor=principal,
            action=action,
            object_type="transcript_share",
            object_id=share.id,
            detail={
                "transcript_id": str(transcript.id),
                "reason": reason,
                "entries_changed": changed,
            },
            ip=ip,
        )
        return await self.statuses(session, share)

    async def statuses(self, session: AsyncSession, share: TranscriptShare) -> dict[str, Any]:
        bits = await status.share_statuses(session, share.id)
        return {
            "id": share.id,
            "transcript_id": share.transcript_id,
            "revoked": bits.get(status.REVOCATION, False) or share.revoked_at is not None,
            "suspended": bits.get(status.SUSPENSION, False),
        }

    async def presentation(self, session: AsyncSession, share_id: uuid.UUID) -> str:
        """What the share's URL returns (anyone holding the URL): the SD-JWT, until it
        is revoked."""
        share = await ShareRepository.from_session(session).get(share_id)
        if share is None or share.revoked_at is not None:
            raise NotFound(f"no share {share_id} / 分享不存在或已撤销", code="share_not_found")
        return share.sd_jwt

    # -- verify (no login) -----------------------------------------------------------

    async def verify_by_link(
        self,
        session: AsyncSession,
        settings: Settings,
        share_id: uuid.UUID,
        *,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The verification of a share opened by its link (the random id is the
        capability, as a transcript's QR link is): its stored SD-JWT checked as
        :meth:`verify_presentation` checks a presented one, revoked and expired shares
        too (the report says so; showing their claims is the page's to refuse)."""
        share = await ShareRepository.from_session(session).get(share_id)
        if share is None:
            raise NotFound(f"no share {share_id} / 分享不存在", code="share_not_found")
        return await self.verify_presentation(session, settings, share.sd_jwt, now=now)

    async def verify_presentation(
        self,
        session: AsyncSession,
        settings: Settings,
        presentation: str,
        *,
        nonce: str | None = None,
        audience: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The SD-JWT report, its ``credentialStatus`` entries checked against the bank's
        own status lists (the signed lists cached per version), plus the share's stored
        state (a share issued before shares had status entries has only that)."""
        lists = await transcripts_service.published_status_lists(
            session, settings, status.referenced_lists(sdjwt.peek(presentation))
        )
        report = self.verify_offline(
            settings, presentation, nonce=nonce, audience=audience, now=now, status_lists=lists
        )
        if report["checks"]["signature"]["valid"]:
            share = await self._share_of(session, report.get("credential_id"))
            report["checks"]["share"] = _share_check(share, report)
            if not report["checks"]["share"]["valid"]:
                report["valid"] = False
        return report

    def verify_offline(
        self,
        settings: Settings,
        presentation: str,
        *,
        jwks: dict[str, Any] | None = None,
        nonce: str | None = None,
        audience: str | None = None,
        now: datetime | None = None,
        status_lists: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The SD-JWT report against the bank's (or the given) issuer keys and the status
        list credentials ``status_lists`` (URL -> VC-JWT, e.g. saved ``/status/{list}``
        files): a share's revocation or suspension is its bit there. Entries whose list
        is not given leave the status ``unknown`` and the report not valid, as for a
        VC-JWT. The share's stored state is not known offline (``checks.share.checked``
        is false)."""
        moment = now or utc_now()
        resolve = transcripts_service.resolver(settings, jwks)
        report = sdjwt.verify(presentation, resolve, now=moment, nonce=nonce, audience=audience)
        if report["credential"] is None:
            status.unchecked(report)
        else:
            found = status.check(
                report["credential"], lists=status_lists or {}, resolve=resolve, now=moment
            )
            status.apply(report, found)
        report["checks"]["share"] = {"valid": True, "checked": False}
        return report

    async def _share_of(self, session: AsyncSession, jti: Any) -> TranscriptShare | None:
        if not isinstance(jti, str) or not jti.startswith("urn:uuid:"):
            return None
        try:
            share_id = uuid.UUID(jti.removeprefix("urn:uuid:"))
        except ValueError:
            return None
        return await ShareRepository.from_session(session).get(share_id)

    async def _transcript(self, session: AsyncSession, transcript_id: uuid.UUID) -> Transcript:
        transcript = await TranscriptRepository.from_session(session).get(transcript_id)
        if transcript is None:
            raise NotFound(
                f"no transcript {transcript_id} / 证明不存在", code="transcript_not_found"
            )
        return transcript


def _credential(transcript: Transcript) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(transcript.credential, parse_float=Decimal)
    return value


def _share_check(share: TranscriptShare | None, report: dict[str, Any]) -> dict[str, Any]:
    if share is None:
        return {"valid": True, "checked": True, "share": None}
    check: dict[str, Any] = {
        "valid": True,
        "checked": True,
        "share": str(share.id),
        "audience": share.audience,
        "revoked": share.revoked_at is not None,
        "suspended": share.suspended_at is not None,
    }
    if share.revoked_at is not None:
        check["valid"] = False
        check["revoked_at"] = share.revoked_at.isoformat()
        report["errors"].append("share: revoked by the learner or the operator / 分享已撤销")
    binding = report["checks"]["key_binding"]
    if share.audience and binding.get("present") and binding.get("aud") != share.audience:
        check["valid"] = False
        report["errors"].append(
            f"key binding: aud {binding.get('aud')!r} is not the share's audience"
        )
    return check


def share_read(settings: Settings, share: TranscriptShare) -> ShareRead:
    """A share as the API answers it (the presentation and its URL)."""
    return ShareRead(
        id=share.id,
        transcript_id=share.transcript_id,
        created_at=share.created_at,
        audience=share.audience,
        expires_at=share.expires_at,
        disclosed=share.disclosed,
        key_bound=share.key_bound,
        revoked_at=share.revoked_at,
        sd_jwt=share.sd_jwt,
        url=f"{issuer_id(settings)}{SHARES_PATH}{share.id}",
    )


shares = TranscriptShareService()
