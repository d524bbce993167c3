"""Transcripts: issue (built from the ledger, outcomes and conversions as of a moment,
signed as a VC-JWT by the issuer key), read in each form, list, verify.

Authorization is decided here through :mod:`creditbank.identity.authz`
(``transcript.issue`` / ``transcript.read``: the learner herself or the operator);
verification needs no login and no database.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.config import Settings
from creditbank.conversions.service import conversions as conversions_service
from creditbank.errors import NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service
from creditbank.kit import signing
from creditbank.kit.crypto import may_generate_keys
from creditbank.kit.time import utc_now
from creditbank.ledger.service import ledger as ledger_service
from creditbank.rules.service import rules as rules_service
from creditbank.transcripts import credential as builder
from creditbank.transcripts import dataintegrity, fast, sdjwt, status, vcjwt, vcld
from creditbank.transcripts import did as didweb
from creditbank.transcripts import sm2 as sm2_proof
from creditbank.transcripts.keys import SM2, TRANSCRIPT_ISSUER
from creditbank.transcripts.models import Transcript
from creditbank.transcripts.repository import ShareRepository, TranscriptRepository

JWKS_PATH = "/.well-known/jwks.json"
DID_PATH = "/.well-known/did.json"
#: The Data Integrity proof (eddsa-rdfc-2022) is made with the issuer's Ed25519 key.
DI_ALGORITHM = "EdDSA"
KID_PATH = "/.well-known/jwks/"
# Status values of the rules and conversions contexts (their models are theirs to import).
_SUPERSEDED, _REVOKED, _APPROVED = "superseded", "revoked", "approved"


def issuer_id(settings: Settings) -> str:
    """The bank's base URL: ``issuer.id``, ``iss`` and the root of every kid URL."""
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    return base.rstrip("/")


def kid_url(settings: Settings, kid: str) -> str:
    return f"{issuer_id(settings)}{KID_PATH}{kid}"


def subject_id(settings: Settings, learner_id: uuid.UUID) -> str:
    """Pseudonymous and stable per learner; not derivable from the learner id alone."""
    digest = hmac.new(
        settings.secret_key.get_secret_value().encode(),
        f"transcript-subject:{learner_id}".encode(),
        hashlib.sha256,
    ).digest()
    return f"urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}"


def _counts_at(outcome: Any, as_of: datetime) -> bool:
    if outcome.recognised_at > as_of or outcome.status == _SUPERSEDED:
        return False
    if outcome.revoked_at is not None and outcome.revoked_at <= as_of:
        return False
    if outcome.status == _REVOKED and outcome.revoked_at is None:
        return False
    return outcome.expires_at is None or outcome.expires_at > as_of


class TranscriptService:
    # -- keys ---------------------------------------------------------------------------

    def key_set(self, settings: Settings) -> signing.KeySet:
        return signing.key_set(settings, TRANSCRIPT_ISSUER)

    def _signing_key(self, settings: Settings, alg: str | None = None) -> signing.SigningKey:
        alg = alg or settings.transcripts.algorithm
        keys = self.key_set(settings)
        if alg not in keys.current and may_generate_keys(settings):
            # Another algorithm (the Data Integrity Ed25519 key, SM2) is added beside the
            # VC-JWT key, not instead of it: a plain `keys rotate` still renews that one.
            signing.rotate(
                settings,
                TRANSCRIPT_ISSUER,
                algorithm=alg,
                make_default=alg == settings.transcripts.algorithm,
            )
            keys = self.key_set(settings)
        return keys.current_key(alg)

    def sd_key(self, settings: Settings) -> signing.SigningKey:
        """The current ES256 key SD-JWT VCs are signed with (added to the set if missing)."""
        return signing.ensure_current(settings, TRANSCRIPT_ISSUER, sdjwt.ALG)

    def full_sd_jwt(
        self, settings: Settings, credential: dict[str, Any], *, issued_at: datetime
    ) -> str:
        """The SD-JWT VC of ``credential`` with every disclosure and the transcript's own
        ``credentialStatus`` entries (creditbank.transcripts.sdjwt; shares, which have
        entries of their own: creditbank.transcripts.shares)."""
        key = self.sd_key(settings)
        return sdjwt.issue(
            credential,
            key,
            kid_url(settings, key.kid),
            jti=credential["id"],
            vct=sdjwt.vct_of(issuer_id(settings)),
            issued_at=issued_at,
            credential_status=credential.get("credentialStatus"),
        )

    def jwks(self, settings: Settings) -> dict[str, Any]:
        """Current and retired issuer keys, each ``kid`` its URL."""
        keys = self.key_set(settings).jwks()["keys"]
        return {"keys": [{**k, "kid": kid_url(settings, k["kid"])} for k in keys]}

    def did(self, settings: Settings) -> str:
        """``did:web`` of the bank's base URL (the controller of every issuer key)."""
        return didweb.did_web(issuer_id(settings))

    def did_document(self, settings: Settings) -> dict[str, Any]:
        """``/.well-known/did.json``: every issuer key that verifies, current and retired."""
        return didweb.document(self.did(settings), self.key_set(settings))

    def jwk(self, settings: Settings, kid: str) -> dict[str, Any]:
        key = self.key_set(settings).get(kid)
        if key is None:
            raise NotFound(f"no issuer key {kid} / 签发密钥不存在", code="key_not_found")
        return {**key.jwk(), "kid": kid_url(settings, kid)}

    # -- issue and read -----------------------------------------------------------------

    async def issue(
        self,
        session: AsyncSession,
        principal: Principal,
        learner_id: uuid.UUID,
        *,
        settings: Settings,
        as_of: datetime | None = None,
    ) -> Transcript:
        authz.authorize(principal, "transcript.issue", authz.Resource(learner_id=learner_id))
        await identity_service.get_learner(session, learner_id)  # 404 when there is none
        issued_at = utc_now()
        moment = min(as_of or issued_at, issued_at)
        outcomes = [
            o
            for o in await rules_service.list_outcomes(session, learner_id)
            if _counts_at(o, moment)
        ]
        claims = []
        names: dict[str, tuple[str, str | None]] = {}
        for outcome in outcomes:
            if outcome.institution_key not in names:
                found = await identity_service.find_institution(session, outcome.institution_key)
                names[outcome.institution_key] = (
                    (found.name_zh, found.name_en) if found else (outcome.institution_key, None)
                )
            name_zh, name_en = names[outcome.institution_key]
            claims.append(
                builder.OutcomeClaim(
                    outcome_id=outcome.id,
                    unit_code=outcome.unit_code,
                    title_zh=outcome.unit_title_zh,
                    title_en=outcome.unit_title_en,
                    level=outcome.level,
                    category=outcome.category,
                    unit_credits=outcome.unit_credits,
                    credits=outcome.credits,
                    awarded_at=outcome.recognised_at,
                    expires_at=outcome.expires_at,
                    institution_key=outcome.institution_key,
                    institution_name_zh=name_zh,
                    institution_name_en=name_en,
                    statement_ids=list(outcome.statement_ids),
                )
            )
        conversions = [
            builder.ConversionClaim(
                application_id=a.id,
                target_institution_key=a.target_institution_key,
                programme=a.programme,
                target_unit=a.target_unit,
                title=dict(a.title),
                credits=a.credits,
                decided_at=a.decided_at,
                source_units=list(a.source_units),
            )
            for a in await conversions_service.of_learner(session, principal, learner_id)
            if a.status == _APPROVED and a.decided_at is not None and a.decided_at <= moment
        ]
        balances = await ledger_service.balances(session, learner_id, as_of=moment)
        transcript_id = uuid.uuid4()
        valid_days = settings.transcripts.valid_days
        credential = builder.build(
            transcript_id=transcript_id,
            issuer_id=issuer_id(settings),
            subject_id=subject_id(settings, learner_id),
            issued_at=issued_at,
            as_of=moment,
            outcomes=claims,
            conversions=conversions,
            totals=builder.Totals(balances.banked, balances.available, balances.converted),
            valid_until=issued_at + timedelta(days=valid_days) if valid_days else None,
            issuer_did=self.did(settings),
        )
        credential["credentialStatus"] = await status.allocate_entries(
            session, issuer=issuer_id(settings), transcript_id=transcript_id, now=issued_at
        )
        key = self._signing_key(settings)
        url = kid_url(settings, key.kid)
        vc_jwt = vcjwt.sign(credential, key, url)
        sm2 = None
        if settings.transcripts.sm2:
            sm2_key = self._signing_key(settings, SM2)
            sm2 = sm2_proof.proof(vc_jwt, sm2_key, kid_url(settings, sm2_key.kid))
        proof_key = self._signing_key(settings, DI_ALGORITHM)
        secured = dataintegrity.sign(
            credential,
            proof_key,
            didweb.verification_method_id(self.did(settings), proof_key.kid),
            created=issued_at,
        )
        transcript = Transcript(
            id=transcript_id,
            learner_id=learner_id,
            subject_id=credential["credentialSubject"]["id"],
            issued_at=issued_at,
            as_of=moment,
            issued_by=principal.id,
            alg=key.alg,
            kid=key.kid,
            credential=vcjwt.canonical_json(secured),  # with its Data Integrity proof
            vc_jwt=vc_jwt,
            vc_jose=vcjwt.sign(credential, key, url, typ="vc+jwt"),
            sd_jwt=self.full_sd_jwt(settings, credential, issued_at=issued_at),
            outcome_ids=sorted(str(o.id) for o in outcomes),
            sm2=sm2,
        )
        await TranscriptRepository.from_session(session).add(transcript)
        await status.link_outcomes(session, transcript_id, [o.id for o in outcomes])
        return transcript

    async def get(
        self, session: AsyncSession, principal: Principal, transcript_id: uuid.UUID
    ) -> Transcript:
        transcript = await TranscriptRepository.from_session(session).get(transcript_id)
        if transcript is None:
            raise NotFound(
                f"no transcript {transcript_id} / 证明不存在", code="transcript_not_found"
            )
        authz.authorize(
            principal, "transcript.read", authz.Resource(learner_id=transcript.learner_id)
        )
        return transcript

    async def of_learner(
        self, session: AsyncSession, principal: Principal, learner_id: uuid.UUID
    ) -> list[Transcript]:
        authz.authorize(principal, "transcript.read", authz.Resource(learner_id=learner_id))
        return await TranscriptRepository.from_session(session).of_learner(learner_id)

    # -- status: revoke, suspend, lift a suspension --------------------------------------

    async def change_status(
        self,
        session: AsyncSession,
        principal: Principal,
        transcript_id: uuid.UUID,
        *,
        purpose: str,
        value: bool,
        reason: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Set (revoke, suspend) or clear (lift a suspension) a transcript's status bit, its
        shares' too; the learner herself or the operator; audited, refusals too. Revoking
        is final. Returns the transcript's statuses."""
        action = {
            (status.REVOCATION, True): "transcript.revoke",
            (status.SUSPENSION, True): "transcript.suspend",
            (status.SUSPENSION, False): "transcript.unsuspend",
        }[(purpose, value)]
        async with audit_service.refusals(
            session, actor=principal, action=action, object_type="transcript",
            object_id=transcript_id, ip=ip,
        ):  # fmt: skip
            transcript = await TranscriptRepository.from_session(session).get(transcript_id)
            if transcript is None:
                raise NotFound(
                    f"no transcript {transcript_id} / 证明不存在", code="transcript_not_found"
                )
            authz.authorize(
                principal, "transcript.status", authz.Resource(learner_id=transcript.learner_id)
            )
        # Lifting the transcript's suspension leaves the shares suspended on their own.
        keep = (
            [] if value else await ShareRepository.from_session(session).suspended_of(transcript_id)
        )
        changed = await status.set_transcript_status(
            session, [transcript_id], purpose, value=value, except_shares=keep
        )
        await audit_service.record(
            session,
            actor=principal,
            action=action,
            object_type="transcript",
            object_id=transcript_id,
            detail={"reason": reason, "entries_changed": changed},
            ip=ip,
        )
        return await self.statuses(session, transcript_id)

    async def statuses(self, session: AsyncSession, transcript_id: uuid.UUID) -> dict[str, Any]:
        bits = await status.statuses(session, transcript_id)
        return {
            "id": transcript_id,
            "revoked": bits.get(status.REVOCATION, False),
            "suspended": bits.get(status.SUSPENSION, False),
        }

    async def signed_form_by_link(self, session: AsyncSession, transcript_id: uuid.UUID) -> str:
        """The VC-JWT behind a transcript's public verify link (the QR code on its PDF).

        No login: the id is a random UUID the holder hands out with the transcript, so
        knowing it is being shown the transcript; an unknown id is simply not found.
        """
        transcript = await TranscriptRepository.from_session(session).get(transcript_id)
        if transcript is None:
            raise NotFound(
                f"no transcript {transcript_id} / 证明不存在", code="transcript_not_found"
            )
        return transcript.vc_jwt

    async def export_learner_data(
        self, session: AsyncSession, learner_id: uuid.UUID
    ) -> dict[str, Any]:
        """Her section of the learner export: every transcript issued, as signed."""
        found = await TranscriptRepository.from_session(session).of_learner(learner_id)
        return {
            "transcripts": [
                {
                    "id": str(t.id),
                    "issued_at": t.issued_at.isoformat(),
                    "as_of": t.as_of.isoformat(),
                    "kid": t.kid,
                    "vc_jwt": t.vc_jwt,
                }
                for t in found
            ]
        }

    # -- verify (no login) ---------------------------------------------------------------

    def verify(
        self,
        settings: Settings,
        token: str | dict[str, Any],
        *,
        jwks: dict[str, Any] | None = None,
        did_document: dict[str, Any] | None = None,
        now: datetime | None = None,
        sm2: Any = None,
        status_lists: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The report of ``token`` against the bank's issuer keys (or a given JWK set or
        DID document) and the status list credentials ``status_lists`` (URL -> VC-JWT;
        none given: the status is ``unknown`` and the report not valid); with ``sm2`` (the
        detached SM2 proof) its check too, which ``valid`` then needs. A JSON object is a
        credential secured with Data Integrity proofs. No database."""
        moment = now or utc_now()
        resolve = self.resolver(settings, jwks)
        if isinstance(token, dict):
            report = vcld.verify(
                token,
                self.method_resolver(settings, jwks=jwks, did_document=did_document),
                now=moment,
            )
            return self._with_status(report, status_lists, resolve, moment)
        report = vcjwt.verify(token, resolve, now=moment)
        if sm2 is not None:
            check, errors = sm2_proof.check(token, sm2, resolve)
            report["checks"]["sm2"] = check
            report["errors"] += errors
            report["valid"] = report["valid"] and check["valid"]
        return self._with_status(report, status_lists, resolve, moment)

    def _with_status(
        self,
        report: dict[str, Any],
        status_lists: Mapping[str, str] | None,
        resolve: vcjwt.KeyResolver,
        now: datetime,
    ) -> dict[str, Any]:
        """The report with its ``credentialStatus`` entries checked (not trusted, hence
        not checked, when the credential's own proof failed)."""
        if report.get("credential") is None:
            return status.unchecked(report)
        found = status.check(
            report["credential"], lists=status_lists or {}, resolve=resolve, now=now
        )
        return status.apply(report, found)

    async def verify_published(
        self,
        session: AsyncSession,
        settings: Settings,
        token: str | dict[str, Any],
        *,
        now: datetime | None = None,
        sm2: Any = None,
    ) -> dict[str, Any]:
        """:meth:`verify` with the bank's own status lists read from the database (the
        signed lists are cached in memory per list version)."""
        payload: dict[str, Any] | None = token if isinstance(token, dict) else None
        if isinstance(token, str):
            try:
                _, payload, _, _ = vcjwt.parse(token)
            except vcjwt.UnparseableCredential:
                payload = None
        lists = await self.published_status_lists(
            session, settings, status.referenced_lists(payload)
        )
        return self.verify(settings, token, now=now, sm2=sm2, status_lists=lists)

    async def published_status_lists(
        self, session: AsyncSession, settings: Settings, urls: list[str]
    ) -> dict[str, str]:
        """URL -> VC-JWT of those of ``urls`` that are the bank's own status lists."""
        issuer = issuer_id(settings)
        ids = {u: i for u in urls if (i := status.list_id_of(u, issuer)) is not None}
        if not ids:
            return {}
        signed = await self._signed_lists(session, settings, list(ids.values()))
        return {u: signed[i].vc_jwt for u, i in ids.items() if i in signed}

    async def status_list(
        self, session: AsyncSession, settings: Settings, list_id: str
    ) -> status.SignedList:
        """A published status list credential (``GET /status/{list}``; no login)."""
        found = await self._signed_lists(session, settings, [list_id])
        if list_id not in found:
            raise NotFound(
                f"no status list {list_id} / 状态列表不存在", code="status_list_not_found"
            )
        return found[list_id]

    async def _signed_lists(
        self, session: AsyncSession, settings: Settings, list_ids: list[str]
    ) -> dict[str, status.SignedList]:
        def signer() -> tuple[signing.SigningKey, str]:
            key = self._signing_key(settings)
            return key, kid_url(settings, key.kid)

        return await status.publisher.signed(
            session,
            list_ids,
            issuer=issuer_id(settings),
            issuer_did=self.did(settings),
            signer=signer,
            ttl_seconds=settings.transcripts.status_ttl_seconds,
        )

    def method_resolver(
        self,
        settings: Settings,
        *,
        jwks: dict[str, Any] | None = None,
        did_document: dict[str, Any] | None = None,
    ) -> dataintegrity.MethodResolver:
        """Data Integrity verification methods from a supplied DID document or JWK set,
        else from the bank's own key set (current and retired keys)."""
        if did_document is not None:
            return vcld.from_did_document(did_document)
        if jwks is not None:
            return vcld.from_jwks(jwks)
        return vcld.from_key_set(self.did(settings), self.key_set(settings))

    def resolver(self, settings: Settings, jwks: dict[str, Any] | None) -> vcjwt.KeyResolver:
        if jwks is not None:
            published = {str(k.get("kid")): k for k in jwks.get("keys", []) if isinstance(k, dict)}

            def from_file(kid: str) -> tuple[dict[str, Any], str] | None:
                jwk = published.get(kid)
                return None if jwk is None else (jwk, "published")

            return from_file
        prefix = issuer_id(settings) + KID_PATH

        def from_keys(kid: str) -> tuple[dict[str, Any], str] | None:
            if not kid.startswith(prefix):
                return None
            return _issuer_keys.lookup(settings, kid[len(prefix) :])

        return from_keys


#: The issuer's public keys by kid, not re-read per verification (the hot path).
_issuer_keys = fast.IssuerKeyCache(TRANSCRIPT_ISSUER)
transcripts = TranscriptService()
