"""The identity context's service: institutions, LRS credentials, learners and links.

Every method that acts for a caller takes the caller's :class:`Principal`, asks
``authz`` and writes an audit entry in the same transaction. Other contexts use
``identity.learner_for_ifi`` and ``identity.ifis_of``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit
from creditbank.errors import BadRequest, Conflict, DomainError, NotFound, Unauthorized
from creditbank.identity import authz
from creditbank.identity.authz import Resource
from creditbank.identity.models import (
    ConsentCode,
    IdentityLink,
    Institution,
    InstitutionType,
    Learner,
    LrsCredential,
)
from creditbank.identity.national_id import normalise_national_id
from creditbank.identity.principal import LRS_SCOPES, XAPI_VERSIONS, Principal, expand_scopes
from creditbank.identity.repository import IdentityRepository
from creditbank.jobs.service import jobs
from creditbank.kit.crypto import Keyring
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.lrs.xapi.ifi import agent_ifi

DEFAULT_LRS_SCOPES = ("statements/write", "statements/read/mine", "state", "profile", "define")


#: Associated-data contexts of the encrypted learner columns (and of the blind index).
CTX_NAME = "learners.name"
CTX_NATIONAL_ID = "learners.national_id"
CTX_PHONE = "learners.phone"
CTX_EMAIL = "learners.email"
CTX_CONSENT = "consent_codes.code"

LINK_CREATED_JOB = "identity.link_created"
CONSENT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")

#: Other contexts add their part of a learner's export: name -> async fn(session, learner_id).
Exporter = Callable[[AsyncSession, uuid.UUID], Awaitable[Any]]
_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(name: str, exporter: Exporter) -> None:
    """Contribute a section to the learner data export (outcomes, ledger, transcripts...)."""
    _EXPORTERS[name] = exporter


#: Other contexts erase or pseudonymise their personal data: name -> async fn(session, id).
Eraser = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]
_ERASERS: dict[str, Eraser] = {}


def register_eraser(name: str, eraser: Eraser) -> None:
    """Run ``eraser`` in the erasure transaction (free text, messages...; never the ledger)."""
    _ERASERS[name] = eraser


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy credential secret (never used for passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCredential:
    """A new credential; ``secret`` is shown this once and never stored."""

    credential: LrsCredential
    secret: str


class IdentityService:
    async def create_institution(
        self,
        session: AsyncSession,
        *,
        key: str,
        name_zh: str,
        type: str,
        name_en: str | None = None,
        home_pages: list[str] | None = None,
        accredited: bool = False,
        region_code: str | None = None,
        accreditation_scope: dict[str, Any] | None = None,
        accredited_from: datetime | None = None,
    ) -> Institution:
        """Register an institution; its key is unique."""
        if type not in set(InstitutionType):
            raise BadRequest(f"unknown institution type {type!r}", code="invalid_type")
        repo = IdentityRepository.from_session(session)
        if await repo.institution_by_key(key) is not None:
            raise Conflict(f"institution {key!r} exists", code="institution_exists")
        institution = Institution(
            key=key,
            name_zh=name_zh,
            name_en=name_en,
            type=type,
            home_pages=list(home_pages or []),
            accredited=accredited,
            accredited_from=(accredited_from or utc_now()) if accredited else None,
            region_code=region_code,
            accreditation_scope=dict(accreditation_scope or {}),
        )
        session.add(institution)
        await session.flush()
        return institution

    async def get_institution(self, session: AsyncSession, key: str) -> Institution:
        institution = await IdentityRepository.from_session(session).institution_by_key(key)
        if institution is None:
            raise NotFound(f"no institution {key!r}", code="institution_not_found")
        return institution

    async def find_institution(self, session: AsyncSession, key: str) -> Institution | None:
        return await IdentityRepository.from_session(session).institution_by_key(key)

    async def issue_credential(
        self,
        session: AsyncSession,
        institution: Institution,
        *,
        scopes: list[str] | tuple[str, ...] = DEFAULT_LRS_SCOPES,
        label: str | None = None,
        xapi_version: str | None = None,
    ) -> IssuedCredential:
        """Create an LRS credential for ``institution``; the secret is returned once.

        ``xapi_version`` ("1.0.3" / "2.0.0") is the version its client speaks: stated on
        answers to its requests that name no version (None: the server default).
        """
        unknown = set(scopes) - LRS_SCOPES
        if unknown:
            raise BadRequest(f"unknown scopes: {sorted(unknown)}", code="invalid_scope")
        if xapi_version is not None and xapi_version not in XAPI_VERSIONS:
            raise BadRequest(
                f"unsupported xapi_version {xapi_version!r}; supported: {', '.join(XAPI_VERSIONS)}",
                code="invalid_xapi_version",
            )
        secret = secrets.token_urlsafe(32)
        credential = LrsCredential(
            institution_id=institution.id,
            key=f"{institution.key}-{secrets.token_hex(6)}",
            secret_hash=hash_secret(secret),
            scopes=sorted(set(scopes)),
            label=label,
            xapi_version=xapi_version,
        )
        session.add(credential)
        await session.flush()
        return IssuedCredential(credential=credential, secret=secret)

    # -- institutions (acting for a caller) ------------------------------------------

    async def register_institution(
        self,
        session: AsyncSession,
        actor: Principal,
        *,
        key: str,
        name_zh: str,
        type: str,
        name_en: str | None = None,
        home_pages: list[str] | None = None,
        region_code: str | None = None,
        ip: str | None = None,
    ) -> Institution:
        """An operator registers an institution (not accredited until accredited)."""
        authz.authorize(actor, "institution.create")
        await self._check_home_pages(session, None, list(home_pages or []))
        institution = await self.create_institution(
            session,
            key=key,
            name_zh=name_zh,
            name_en=name_en,
            type=type,
            home_pages=home_pages,
            region_code=region_code,
        )
        await audit.record(
            session,
            actor=actor,
            action="institution.create",
            object_type="institution",
            object_id=institution.id,
            detail={"key": key, "type": type},
            ip=ip,
        )
        return institution

    async def update_institution(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        *,
        changes: Mapping[str, Any],
        ip: str | None = None,
    ) -> Institution:
        """Names, region and homePages; its admin or the operator."""
        authz.authorize(actor, "institution.update", Resource(institution_id=institution.id))
        allowed = {"name_zh", "name_en", "region_code", "home_pages"}
        unknown = set(changes) - allowed
        if unknown:
            raise BadRequest(f"cannot change {sorted(unknown)}", code="invalid_field")
        if "home_pages" in changes:
            authz.authorize(
                actor, "institution.set_home_pages", Resource(institution_id=institution.id)
            )
            await self._check_home_pages(session, institution, changes["home_pages"] or [])
        for name, value in changes.items():
            setattr(institution, name, list(value) if name == "home_pages" else value)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="institution.update",
            object_type="institution",
            object_id=institution.id,
            detail={"fields": sorted(changes)},
            ip=ip,
        )
        return institution

    async def _check_home_pages(
        self, session: AsyncSession, institution: Institution | None, pages: list[str]
    ) -> None:
        """Absolute IRIs, each owned by one institution only."""
        mine = {page.rstrip("/") for page in pages}
        for page in pages:
            _require_absolute_iri(page, "homePage")
        for other in await IdentityRepository.from_session(session).list_institutions():
            if institution is not None and other.id == institution.id:
                continue
            taken = mine & {page.rstrip("/") for page in other.home_pages}
            if taken:
                raise Conflict(
                    f"homePage {sorted(taken)[0]!r} belongs to {other.key!r}",
                    code="home_page_taken",
                )

    async def accredit(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        *,
        accredited: bool,
        accredited_from: datetime | None = None,
        accredited_until: datetime | None = None,
        scope: Mapping[str, Any] | None = None,
        ip: str | None = None,
    ) -> Institution:
        """Only an operator accredits (or withdraws accreditation)."""
        authz.authorize(actor, "institution.accredit", Resource(institution_id=institution.id))
        start = accredited_from or (utc_now() if accredited else None)
        if start is not None and accredited_until is not None and accredited_until <= start:
            raise BadRequest(
                "accredited_until must be after accredited_from", code="invalid_period"
            )
        institution.accredited = accredited
        institution.accredited_from = start
        institution.accredited_until = accredited_until
        if scope is not None:
            institution.accreditation_scope = {
                "categories": sorted(set(scope.get("categories") or [])),
                "units": sorted(set(scope.get("units") or [])),
            }
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="institution.accredit",
            object_type="institution",
            object_id=institution.id,
            detail={
                "accredited": accredited,
                "from": isoformat_z(start) if start else None,
                "until": isoformat_z(accredited_until) if accredited_until else None,
                "scope": institution.accreditation_scope,
            },
            ip=ip,
        )
        return institution

    @staticmethod
    def is_accredited(institution: Institution, at: datetime | None = None) -> bool:
        """Accredited and ``at`` (default now) inside the accreditation period."""
        at = at or utc_now()
        if not institution.accredited:
            return False
        if institution.accredited_from is not None and at < institution.accredited_from:
            return False
        return institution.accredited_until is None or at < institution.accredited_until

    async def list_institutions(self, session: AsyncSession, actor: Principal) -> list[Institution]:
        authz.authorize(actor, "institution.list")
        return await IdentityRepository.from_session(session).list_institutions()

    async def read_institution(
        self, session: AsyncSession, actor: Principal, key: str
    ) -> Institution:
        authz.authorize(actor, "institution.read")
        return await self.get_institution(session, key)

    async def institution_for_caller(
        self, session: AsyncSession, actor: Principal, key: str | None
    ) -> Institution:
        """The institution named by ``key``, or the caller's own when ``key`` is omitted."""
        if key is not None:
            return await self.get_institution(session, key)
        if actor.institution_key is None:
            raise BadRequest("name the institution", code="institution_required")
        return await self.get_institution(session, actor.institution_key)

    # -- credentials (acting for a caller) -------------------------------------------

    async def list_credentials(
        self, session: AsyncSession, actor: Principal, institution: Institution
    ) -> list[LrsCredential]:
        authz.authorize(actor, "credential.manage", Resource(institution_id=institution.id))
        return await IdentityRepository.from_session(session).credentials_of(institution)

    async def create_credential(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        *,
        scopes: list[str] | None = None,
        label: str | None = None,
        xapi_version: str | None = None,
        ip: str | None = None,
    ) -> IssuedCredential:
        authz.authorize(actor, "credential.manage", Resource(institution_id=institution.id))
        if "statements/read" in expand_scopes(list(scopes or [])):
            authz.authorize(
                actor, "credential.grant_read_all", Resource(institution_id=institution.id)
            )
        issued = await self.issue_credential(
            session,
            institution,
            scopes=scopes or DEFAULT_LRS_SCOPES,
            label=label,
            xapi_version=xapi_version,
        )
        await audit.record(
            session,
            actor=actor,
            action="credential.create",
            object_type="lrs_credential",
            object_id=issued.credential.id,
            detail={
                "key": issued.credential.key,
                "institution": institution.key,
                "scopes": issued.credential.scopes,
                "xapi_version": issued.credential.xapi_version,
            },
            ip=ip,
        )
        return issued

    async def _credential_of(
        self, session: AsyncSession, institution: Institution, credential_id: uuid.UUID
    ) -> LrsCredential:
        credential = await IdentityRepository.from_session(session).credential_by_id(credential_id)
        if credential is None or credential.institution_id != institution.id:
            raise NotFound("no such credential", code="credential_not_found")
        return credential

    async def rotate_credential(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        credential_id: uuid.UUID,
        *,
        ip: str | None = None,
    ) -> IssuedCredential:
        """A new secret for the same key; the old secret stops working at once."""
        authz.authorize(actor, "credential.manage", Resource(institution_id=institution.id))
        credential = await self._credential_of(session, institution, credential_id)
        if credential.revoked_at is not None:
            raise Conflict("credential is revoked", code="credential_revoked")
        secret = secrets.token_urlsafe(32)
        credential.secret_hash = hash_secret(secret)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="credential.rotate",
            object_type="lrs_credential",
            object_id=credential.id,
            detail={"key": credential.key},
            ip=ip,
        )
        return IssuedCredential(credential=credential, secret=secret)

    async def revoke_credential(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        credential_id: uuid.UUID,
        *,
        ip: str | None = None,
    ) -> LrsCredential:
        """Revoked at once: Basic and bearer tokens of this credential refuse from now on."""
        authz.authorize(actor, "credential.manage", Resource(institution_id=institution.id))
        credential = await self._credential_of(session, institution, credential_id)
        if credential.revoked_at is None:
            credential.revoked_at = utc_now()
            await session.flush()
            await audit.record(
                session,
                actor=actor,
                action="credential.revoke",
                object_type="lrs_credential",
                object_id=credential.id,
                detail={"key": credential.key},
                ip=ip,
            )
        return credential

    async def authenticate_basic(self, session: AsyncSession, key: str, secret: str) -> Principal:
        """The principal of an LRS credential, or ``Unauthorized``."""
        credential = await IdentityRepository.from_session(session).credential_by_key(key)
        if credential is None or credential.revoked_at is not None:
            # Same work either way, so timing does not tell which keys exist.
            hmac.compare_digest(hash_secret(secret), "0" * 64)
            raise Unauthorized("invalid credentials", code="invalid_credentials")
        if not hmac.compare_digest(hash_secret(secret), credential.secret_hash):
            raise Unauthorized("invalid credentials", code="invalid_credentials")
        return credential_principal(credential)

    # -- lookups for other contexts ----------------------------------------------------

    async def learner_for_ifi(self, session: AsyncSession, ifi: str) -> Learner | None:
        """The learner a canonical IFI key is linked to, if any."""
        repo = IdentityRepository.from_session(session)
        link = await repo.link_by_ifi(ifi)
        return None if link is None else await repo.learner_by_id(link.learner_id)

    async def institution_by_id(
        self, session: AsyncSession, institution_id: uuid.UUID
    ) -> Institution | None:
        """The institution with this id (the rules engine resolves a statement's sender)."""
        return await IdentityRepository.from_session(session).institution_by_id(institution_id)

    async def home_page_owners(self, session: AsyncSession) -> dict[str, Institution]:
        """Every registered account homePage (normalised, see ``normalise_home_page``)
        and the institution that owns it: the LRS refuses statements asserting about
        another institution's accounts."""
        owners: dict[str, Institution] = {}
        for institution in await IdentityRepository.from_session(session).list_institutions():
            for page in institution.home_pages:
                owners[normalise_home_page(page)] = institution
        return owners

    async def linked_through(
        self, session: AsyncSession, ifis: list[str]
    ) -> dict[str, uuid.UUID | None]:
        """For each of ``ifis`` linked to a learner: the institution it was linked
        through (``None``: linked by the operator or in bulk without one)."""
        links = await IdentityRepository.from_session(session).links_by_ifis(ifis)
        return {link.ifi: link.institution_id for link in links}

    async def ifis_of(self, session: AsyncSession, learner_id: uuid.UUID) -> list[str]:
        """Every canonical IFI key linked to the learner."""
        links = await IdentityRepository.from_session(session).links_of(learner_id)
        return [link.ifi for link in links]

    # -- learners -----------------------------------------------------------------------

    async def get_learner(self, session: AsyncSession, learner_id: uuid.UUID) -> Learner:
        learner = await IdentityRepository.from_session(session).learner_by_id(learner_id)
        if learner is None:
            raise NotFound("no such learner / 学习者不存在", code="learner_not_found")
        return learner

    async def create_learner(
        self,
        session: AsyncSession,
        actor: Principal | str,
        *,
        keyring: Keyring,
        name: str,
        national_id: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        ip: str | None = None,
    ) -> Learner:
        """A new bank account; personal fields encrypted, national ID blind-indexed."""
        if isinstance(actor, Principal):
            authz.authorize(actor, "learner.create")
        fields = _check_profile(name=name, phone=phone, email=email)
        number = normalise_national_id(national_id) if national_id is not None else None
        repo = IdentityRepository.from_session(session)
        index = keyring.blind_index(number, context=CTX_NATIONAL_ID) if number else None
        if index is not None and await repo.learner_by_national_id_index(index) is not None:
            raise Conflict(
                "a learner with this national ID exists / 该身份证号已开户", code="learner_exists"
            )
        learner = Learner(
            bank_id=await self._new_bank_id(repo),
            name_enc=keyring.encrypt(fields["name"] or "", context=CTX_NAME),
            national_id_enc=keyring.encrypt_optional(number, context=CTX_NATIONAL_ID),
            national_id_index=index,
            phone_enc=keyring.encrypt_optional(fields["phone"], context=CTX_PHONE),
            email_enc=keyring.encrypt_optional(fields["email"], context=CTX_EMAIL),
        )
        session.add(learner)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict("learner exists / 学习者已存在", code="learner_exists") from exc
        await audit.record(
            session,
            actor=actor,
            action="learner.create",
            object_type="learner",
            object_id=learner.id,
            detail={"bank_id": learner.bank_id},
            ip=ip,
        )
        return learner

    @staticmethod
    async def _new_bank_id(repo: IdentityRepository) -> str:
        while True:
            bank_id = f"CB{secrets.randbelow(10**12):012d}"
            if await repo.learner_by_bank_id(bank_id) is None:
                return bank_id

    async def update_learner(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        changes: Mapping[str, str | None],
        ip: str | None = None,
    ) -> Learner:
        """Name, phone, email (the national ID is fixed once given, unless it was absent)."""
        authz.authorize(actor, "learner.update", Resource(learner_id=learner.id))
        _require_not_erased(learner)
        allowed = {"name", "phone", "email", "national_id"}
        unknown = set(changes) - allowed
        if unknown:
            raise BadRequest(f"cannot change {sorted(unknown)}", code="invalid_field")
        fields = _check_profile(
            name=changes.get("name"), phone=changes.get("phone"), email=changes.get("email")
        )
        if "name" in changes and fields["name"]:
            learner.name_enc = keyring.encrypt(fields["name"], context=CTX_NAME)
        if "phone" in changes:
            learner.phone_enc = keyring.encrypt_optional(fields["phone"], context=CTX_PHONE)
        if "email" in changes:
            learner.email_enc = keyring.encrypt_optional(fields["email"], context=CTX_EMAIL)
        if changes.get("national_id") is not None:
            if learner.national_id_enc is not None:
                raise Conflict("national ID already set / 身份证号已登记", code="national_id_set")
            number = normalise_national_id(str(changes["national_id"]))
            index = keyring.blind_index(number, context=CTX_NATIONAL_ID)
            repo = IdentityRepository.from_session(session)
            if await repo.learner_by_national_id_index(index) is not None:
                raise Conflict("national ID belongs to another account", code="learner_exists")
            learner.national_id_enc = keyring.encrypt(number, context=CTX_NATIONAL_ID)
            learner.national_id_index = index
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="learner.update",
            object_type="learner",
            object_id=learner.id,
            detail={"fields": sorted(changes)},
            ip=ip,
        )
        return learner

    async def read_profile(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        reveal: bool = False,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """The profile; masked unless ``reveal`` (and the role allows it: audited read)."""
        from creditbank.identity.classification import mask

        authz.authorize(actor, "learner.read", Resource(learner_id=learner.id))
        profile = _decrypt_profile(keyring, learner)
        if reveal:
            authz.authorize(actor, "learner.read_sensitive", Resource(learner_id=learner.id))
            await audit.record(
                session,
                actor=actor,
                action="learner.read_sensitive",
                object_type="learner",
                object_id=learner.id,
                detail={"fields": sorted(k for k, v in profile.items() if v)},
                ip=ip,
            )
        else:
            profile = {k: mask(k, v) for k, v in profile.items()}
        return {
            "id": learner.id,
            "bank_id": learner.bank_id,
            **profile,
            "created_at": learner.created_at,
            "erased": learner.erased_at is not None,
            "masked": not reveal,
        }

    async def find_by_national_id(
        self,
        session: AsyncSession,
        actor: Principal,
        national_id: str,
        *,
        keyring: Keyring,
        ip: str | None = None,
    ) -> Learner | None:
        """Exact lookup through the blind index (operator; audited)."""
        authz.authorize(actor, "learner.list")
        number = normalise_national_id(national_id)
        learner = await IdentityRepository.from_session(session).learner_by_national_id_index(
            keyring.blind_index(number, context=CTX_NATIONAL_ID)
        )
        await audit.record(
            session,
            actor=actor,
            action="learner.lookup_national_id",
            object_type="learner",
            object_id=learner.id if learner else None,
            detail={"found": learner is not None},
            ip=ip,
        )
        return learner

    async def list_learners(
        self, session: AsyncSession, actor: Principal, *, limit: int = 100, offset: int = 0
    ) -> list[Learner]:
        authz.authorize(actor, "learner.list")
        return await IdentityRepository.from_session(session).list_learners(
            limit=max(1, min(limit, 500)), offset=max(0, offset)
        )

    # -- identity links -------------------------------------------------------------

    async def create_consent_code(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        ttl_seconds: int,
        institution: Institution | None = None,
        ip: str | None = None,
    ) -> tuple[ConsentCode, str]:
        """A single-use code (shown once) the learner gives an institution to link her."""
        authz.authorize(actor, "consent.create", Resource(learner_id=learner.id))
        _require_not_erased(learner)
        raw = "".join(secrets.choice(CONSENT_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        consent = ConsentCode(
            learner_id=learner.id,
            code_hash=keyring.blind_index(raw, context=CTX_CONSENT),
            institution_id=institution.id if institution else None,
            expires_at=utc_now() + timedelta(seconds=ttl_seconds),
        )
        session.add(consent)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="consent.create",
            object_type="learner",
            object_id=learner.id,
            detail={
                "consent_id": str(consent.id),
                "institution": institution.key if institution else None,
            },
            ip=ip,
        )
        return consent, code

    async def link_with_consent(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        *,
        keyring: Keyring,
        consent_code: str,
        agent: Mapping[str, Any],
        ip: str | None = None,
    ) -> IdentityLink:
        """(a) The institution asserts that ``agent`` is the learner who gave the code."""
        authz.authorize(actor, "link.assert", Resource(institution_id=institution.id))
        ifi, kind = canonical_ifi(agent)
        _require_owned_home_page(institution, ifi, kind)
        raw = consent_code.strip().upper().replace("-", "").replace(" ", "")
        repo = IdentityRepository.from_session(session)
        consent = await repo.consent_by_hash(keyring.blind_index(raw, context=CTX_CONSENT))
        now = utc_now()
        if consent is None:
            raise BadRequest("unknown consent code / 授权码无效", code="invalid_consent_code")
        if consent.used_at is not None:
            raise Conflict("consent code already used / 授权码已使用", code="consent_code_used")
        if consent.expires_at <= now:
            raise BadRequest("consent code expired / 授权码已过期", code="consent_code_expired")
        if consent.institution_id is not None and consent.institution_id != institution.id:
            raise BadRequest(
                "consent code was given to another institution / 授权码不属于本机构",
                code="invalid_consent_code",
            )
        learner = await self.get_learner(session, consent.learner_id)
        _require_not_erased(learner)
        if not await repo.use_consent(consent, at=now, by=institution.id):
            raise Conflict("consent code already used / 授权码已使用", code="consent_code_used")
        link, _created = await self._link(
            session,
            actor,
            learner,
            ifi=ifi,
            kind=kind,
            institution=institution,
            method="consent",
            ip=ip,
            detail={"consent_id": str(consent.id)},
        )
        return link

    async def bulk_link_by_national_id(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        *,
        keyring: Keyring,
        items: list[Mapping[str, Any]],
        ip: str | None = None,
    ) -> list[dict[str, Any]]:
        """(b) Link each ``{national_id, agent}`` to the learner with that national ID.

        All-or-nothing: a malformed item is 400, an IFI linked to someone else 409,
        and nothing is linked. Items whose national ID has no account are reported
        ``no_learner`` (the institution learns nothing else about them).
        """
        authz.authorize(actor, "link.bulk", Resource(institution_id=institution.id))
        if not items or len(items) > 1000:
            raise BadRequest("between 1 and 1000 items", code="invalid_batch")
        prepared: list[tuple[str, str, str]] = []
        problems: list[dict[str, Any]] = []
        for position, item in enumerate(items):
            try:
                number = normalise_national_id(str(item.get("national_id", "")))
                ifi, kind = canonical_ifi(item.get("agent") or {})
                _require_owned_home_page(institution, ifi, kind)
            except DomainError as exc:
                problems.append({"index": position, "error": exc.code})
                continue
            prepared.append((keyring.blind_index(number, context=CTX_NATIONAL_ID), ifi, kind))
        if problems:
            raise BadRequest(
                f"{len(problems)} invalid item(s), nothing linked: {problems}",
                code="invalid_items",
            )
        repo = IdentityRepository.from_session(session)
        learners = await repo.learners_by_national_id_index([p[0] for p in prepared])
        results: list[dict[str, Any]] = []
        for position, (index, ifi, kind) in enumerate(prepared):
            learner = learners.get(index)
            if learner is None or learner.erased_at is not None:
                results.append({"index": position, "status": "no_learner"})
                continue
            try:
                link, created = await self._link(
                    session,
                    actor,
                    learner,
                    ifi=ifi,
                    kind=kind,
                    institution=institution,
                    method="national_id",
                    ip=ip,
                    detail={"bulk_index": position},
                )
            except Conflict as exc:
                raise Conflict(
                    f"item {position}: {exc.detail}; nothing linked", code=exc.code
                ) from exc
            results.append(
                {
                    "index": position,
                    "status": "linked" if created else "already_linked",
                    "link_id": str(link.id),
                    "bank_id": learner.bank_id,
                }
            )
        return results

    async def link_by_operator(
        self,
        session: AsyncSession,
        actor: Principal | str,
        learner: Learner,
        *,
        agent: Mapping[str, Any],
        institution: Institution | None = None,
        ip: str | None = None,
        process_waiting: bool = True,
    ) -> IdentityLink:
        """The operator (or the demo loader / CLI) attaches an IFI directly.

        ``process_waiting=False`` skips the ``identity.link_created`` job: only for a
        loader that knows no statement of this IFI can exist yet (the demo's fresh data).
        """
        if isinstance(actor, Principal):
            authz.authorize(actor, "user.manage")
        ifi, kind = canonical_ifi(agent)
        link, _ = await self._link(
            session,
            actor,
            learner,
            ifi=ifi,
            kind=kind,
            institution=institution,
            method="operator",
            ip=ip,
            detail={},
            process_waiting=process_waiting,
        )
        return link

    async def _link(
        self,
        session: AsyncSession,
        actor: Principal | str,
        learner: Learner,
        *,
        ifi: str,
        kind: str,
        institution: Institution | None,
        method: str,
        ip: str | None,
        detail: dict[str, Any],
        process_waiting: bool = True,
    ) -> tuple[IdentityLink, bool]:
        repo = IdentityRepository.from_session(session)
        existing = await repo.link_by_ifi(ifi)
        if existing is not None:
            if existing.learner_id == learner.id:
                return existing, False
            raise Conflict(
                "this identity is linked to another learner / 该身份已关联其他学习者",
                code="ifi_already_linked",
            )
        link = IdentityLink(
            learner_id=learner.id,
            ifi=ifi,
            kind=kind,
            institution_id=institution.id if institution else None,
            method=method,
        )
        session.add(link)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "this identity is linked to another learner / 该身份已关联其他学习者",
                code="ifi_already_linked",
            ) from exc
        # Statements of this actor that waited for a link get processed, exactly once.
        if process_waiting:
            await jobs.enqueue(
                session,
                LINK_CREATED_JOB,
                {"learner_id": str(learner.id), "ifi": ifi, "link_id": str(link.id)},
                dedupe_key=f"link:{ifi}:{link.id}"[:200],
            )
        await audit.record(
            session,
            actor=actor,
            action="link.create",
            object_type="learner",
            object_id=learner.id,
            detail={
                "link_id": str(link.id),
                "kind": kind,
                "method": method,
                "institution": institution.key if institution else None,
                **detail,
            },
            ip=ip,
        )
        return link, True

    async def list_links(
        self, session: AsyncSession, actor: Principal, learner: Learner
    ) -> list[IdentityLink]:
        authz.authorize(actor, "link.read", Resource(learner_id=learner.id))
        return await IdentityRepository.from_session(session).links_of(learner.id)

    async def remove_link(
        self,
        session: AsyncSession,
        actor: Principal,
        link_id: uuid.UUID,
        *,
        ip: str | None = None,
    ) -> None:
        repo = IdentityRepository.from_session(session)
        link = await repo.link_by_id(link_id)
        if link is None:
            raise NotFound("no such link", code="link_not_found")
        authz.authorize(
            actor,
            "link.delete",
            Resource(learner_id=link.learner_id, institution_id=link.institution_id),
        )
        await session.delete(link)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="link.delete",
            object_type="learner",
            object_id=link.learner_id,
            detail={"link_id": str(link.id), "kind": link.kind},
            ip=ip,
        )

    # -- data subject rights --------------------------------------------------------

    async def export_learner(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Everything the bank holds about the learner, decrypted, as JSON-ready data."""
        from creditbank.identity.signin import sign_in

        authz.authorize(actor, "learner.export", Resource(learner_id=learner.id))
        repo = IdentityRepository.from_session(session)
        user = await repo.user_of_learner(learner.id)
        sections: dict[str, Any] = {}
        for name, exporter in sorted(_EXPORTERS.items()):
            sections[name] = await exporter(session, learner.id)
        entries = await audit.query(
            session, object_type="learner", object_id=str(learner.id), limit=500
        )
        await audit.record(
            session,
            actor=actor,
            action="learner.export",
            object_type="learner",
            object_id=learner.id,
            detail={"sections": sorted(sections)},
            ip=ip,
        )
        return {
            "format": "creditbank.learner-export.v1",
            "exported_at": isoformat_z(utc_now()),
            "learner": {
                "id": str(learner.id),
                "bank_id": learner.bank_id,
                **_decrypt_profile(keyring, learner),
                "created_at": isoformat_z(learner.created_at),
                "erased_at": isoformat_z(learner.erased_at) if learner.erased_at else None,
            },
            "identity_links": [
                {
                    "id": str(link.id),
                    "ifi": link.ifi,
                    "kind": link.kind,
                    "method": link.method,
                    "created_at": isoformat_z(link.created_at),
                }
                for link in await repo.links_of(learner.id)
            ],
            "consent_codes": [
                {
                    "id": str(c.id),
                    "created_at": isoformat_z(c.created_at),
                    "expires_at": isoformat_z(c.expires_at),
                    "used_at": isoformat_z(c.used_at) if c.used_at else None,
                }
                for c in await repo.consents_of(learner.id)
            ],
            "user": None if user is None else sign_in.describe_user(user),
            "audit": [
                {
                    "at": isoformat_z(e.at),
                    "action": e.action,
                    "actor_kind": e.actor_kind,
                    "outcome": e.outcome,
                    "detail": e.detail,
                }
                for e in entries
            ],
            **sections,
        }

    async def erase_learner(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        ip: str | None = None,
    ) -> Learner:
        """Erase personal data; the account id stays as a pseudonym for the ledger.

        Encrypted fields and the blind index are cleared, identity links and consent
        codes deleted, the sign-in disabled and its sessions revoked. Ledger entries
        and issued transcripts reference only the learner id, so they stay verifiable.
        """
        from creditbank.identity.signin import sign_in

        authz.authorize(actor, "learner.erase", Resource(learner_id=learner.id))
        if learner.erased_at is not None:
            return learner
        repo = IdentityRepository.from_session(session)
        # Other contexts find her data through her links: erase theirs first.
        for _name, eraser in sorted(_ERASERS.items()):
            await eraser(session, learner.id)
        links = await repo.delete_links_of(learner.id)
        await repo.delete_consents_of(learner.id)
        learner.name_enc = None
        learner.national_id_enc = None
        learner.national_id_index = None
        learner.phone_enc = None
        learner.email_enc = None
        learner.erased_at = utc_now()
        user = await repo.user_of_learner(learner.id)
        if user is not None:
            await sign_in.disable_for_erasure(session, user)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="learner.erase",
            object_type="learner",
            object_id=learner.id,
            detail={"links_removed": links, "erasers": sorted(_ERASERS)},
            ip=ip,
        )
        return learner

    # -- key rotation -----------------------------------------------------------------

    async def reencrypt_all(self, session: AsyncSession, *, keyring: Keyring) -> int:
        """Re-encrypt every learner field not under the current key; returns the count."""
        count = 0
        columns = (
            ("name_enc", CTX_NAME),
            ("national_id_enc", CTX_NATIONAL_ID),
            ("phone_enc", CTX_PHONE),
            ("email_enc", CTX_EMAIL),
        )
        for learner in await IdentityRepository.from_session(session).all_learners():
            for column, context in columns:
                value = getattr(learner, column)
                if keyring.needs_reencrypt(value):
                    setattr(learner, column, keyring.reencrypt(value, context=context))
                    count += 1
        await session.flush()
        await audit.record(
            session,
            actor="cli",
            action="keys.reencrypt",
            object_type="keyring",
            object_id=keyring.current,
            detail={"values": count},
        )
        return count


def _require_not_erased(learner: Learner) -> None:
    if learner.erased_at is not None:
        raise Conflict("the account was erased / 账户已注销", code="learner_erased")


def _decrypt_profile(keyring: Keyring, learner: Learner) -> dict[str, str | None]:
    return {
        "name": keyring.decrypt_optional(learner.name_enc, context=CTX_NAME),
        "national_id": keyring.decrypt_optional(learner.national_id_enc, context=CTX_NATIONAL_ID),
        "phone": keyring.decrypt_optional(learner.phone_enc, context=CTX_PHONE),
        "email": keyring.decrypt_optional(learner.email_enc, context=CTX_EMAIL),
    }


def _check_profile(
    *, name: str | None, phone: str | None, email: str | None
) -> dict[str, str | None]:
    if name is not None:
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequest("name must be 1-100 characters / 姓名长度1-100", code="invalid_name")
    if phone is not None:
        phone = phone.strip()
        if not _PHONE.match(phone):
            raise BadRequest("malformed phone number / 手机号格式错误", code="invalid_phone")
    if email is not None:
        email = email.strip()
        if not _EMAIL.match(email) or len(email) > 254:
            raise BadRequest("malformed email address / 邮箱格式错误", code="invalid_email")
    return {"name": name, "phone": phone, "email": email}


def _require_absolute_iri(value: str, what: str) -> None:
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path) or "|" in value:
        raise BadRequest(f"{what} must be an absolute IRI: {value!r}", code="invalid_iri")


def canonical_ifi(agent: Mapping[str, Any]) -> tuple[str, str]:
    """``(ifi key, kind)`` of an xAPI Agent with exactly one well-formed IFI, else 400."""
    if not isinstance(agent, Mapping):
        raise BadRequest("agent must be an object", code="invalid_agent")
    present = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if agent.get(k)]
    if len(present) != 1:
        raise BadRequest("agent needs exactly one IFI", code="invalid_agent")
    kind = present[0]
    value = agent[kind]
    if kind == "mbox" and not (
        isinstance(value, str) and value.lower().startswith("mailto:") and _EMAIL.match(value[7:])
    ):
        raise BadRequest("mbox must be a mailto: IRI", code="invalid_agent")
    if kind == "mbox_sha1sum" and not (isinstance(value, str) and _SHA1.match(value)):
        raise BadRequest("mbox_sha1sum must be 40 hex digits", code="invalid_agent")
    if kind == "openid":
        if not isinstance(value, str):
            raise BadRequest("openid must be a URI", code="invalid_agent")
        _require_absolute_iri(value, "openid")
    if kind == "account":
        if not (
            isinstance(value, Mapping)
            and isinstance(value.get("homePage"), str)
            and isinstance(value.get("name"), str)
            and value["name"]
        ):
            raise BadRequest("account needs homePage and name", code="invalid_agent")
        _require_absolute_iri(value["homePage"], "homePage")
    ifi = agent_ifi(agent)
    if ifi is None:  # pragma: no cover - guarded above
        raise BadRequest("agent has no IFI", code="invalid_agent")
    return ifi, kind


def _require_owned_home_page(institution: Institution, ifi: str, kind: str) -> None:
    """An institution asserts account IFIs only on the homePages it owns."""
    if kind != "account":
        return
    home_page = ifi[len("account:") :].partition("|")[0]
    owned = {page.rstrip("/") for page in institution.home_pages}
    if home_page.rstrip("/") not in owned:
        raise DomainError(
            "account homePage is not one of this institution's / 账号主页不属于本机构",
            code="home_page_not_owned",
            status_code=403,
        )


def normalise_home_page(page: str) -> str:
    """A homePage as ownership compares it: scheme and host lowercased, no trailing ``/``
    (so ``https://MOOC1.example.cn/`` is still the MOOC platform's)."""
    parts = urlsplit(page.strip())
    return (
        parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower())
        .geturl()
        .rstrip("/")
    )


def credential_principal(credential: LrsCredential) -> Principal:
    """The principal (and xAPI authority) of a loaded credential."""
    institution = credential.institution
    home_page = institution.home_pages[0] if institution.home_pages else "urn:creditbank"
    return Principal(
        kind="credential",
        id=credential.id,
        institution_id=institution.id,
        institution_key=institution.key,
        scopes=expand_scopes(credential.scopes),
        label=credential.key,
        xapi_version=credential.xapi_version,
        authority={
            "objectType": "Agent",
            "name": institution.name_zh,
            "account": {"homePage": home_page, "name": credential.key},
        },
    )


identity = IdentityService()
