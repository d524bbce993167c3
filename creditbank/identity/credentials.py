"""LRS credentials: issue, rotate, revoke, and Basic authentication of an institution.

A credential is a key and a high-entropy secret (stored as SHA-256) with xAPI scopes;
``credential_principal`` turns a loaded credential into the caller's principal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit
from creditbank.errors import BadRequest, Conflict, NotFound, Unauthorized
from creditbank.identity import authz
from creditbank.identity.authz import Resource
from creditbank.identity.models import Institution, LrsCredential
from creditbank.identity.principal import LRS_SCOPES, XAPI_VERSIONS, Principal, expand_scopes
from creditbank.identity.repository import IdentityRepository
from creditbank.kit.time import utc_now

DEFAULT_LRS_SCOPES = ("statements/write", "statements/read/mine", "state", "profile", "define")


class CredentialService:
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

    # -- acting for a caller -----------------------------------------------------

    def configure_credential_cache(self, seconds: float) -> None:
        """How long this process trusts a verified credential, in seconds (0: off)."""
        verified_credentials.configure(seconds)

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
        async with audit.refusals(
            session,
            actor=actor,
            action="credential.create",
            object_type="institution",
            object_id=institution.id,
            ip=ip,
        ):
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
        async with audit.refusals(
            session,
            actor=actor,
            action="credential.rotate",
            object_type="lrs_credential",
            object_id=credential_id,
            ip=ip,
        ):
            authz.authorize(actor, "credential.manage", Resource(institution_id=institution.id))
            credential = await self._credential_of(session, institution, credential_id)
            if credential.revoked_at is not None:
                raise Conflict("credential is revoked", code="credential_revoked")
            secret = secrets.token_urlsafe(32)
            credential.secret_hash = hash_secret(secret)
            await session.flush()
            verified_credentials.forget(credential.key)
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
        async with audit.refusals(
            session,
            actor=actor,
            action="credential.revoke",
            object_type="lrs_credential",
            object_id=credential_id,
            ip=ip,
        ):
            authz.authorize(actor, "credential.manage", Resource(institution_id=institution.id))
            credential = await self._credential_of(session, institution, credential_id)
            verified_credentials.forget(credential.key)
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
        """The principal of an LRS credential, or ``Unauthorized``.

        A pair verified in the last ``identity.credential_cache_seconds`` is answered
        from this process's memory (no query); rotating or revoking a credential
        forgets it here at once, and in other processes within that many seconds.
        """
        digest = hash_secret(secret)
        engine = _engine_of(session)
        cached = verified_credentials.get(engine, key, digest)
        if cached is not None:
            return cached
        credential = await IdentityRepository.from_session(session).credential_by_key(key)
        if credential is None or credential.revoked_at is not None:
            # Same work either way, so timing does not tell which keys exist.
            hmac.compare_digest(digest, "0" * 64)
            raise Unauthorized("invalid credentials", code="invalid_credentials")
        if not hmac.compare_digest(digest, credential.secret_hash):
            raise Unauthorized("invalid credentials", code="invalid_credentials")
        principal = credential_principal(credential)
        verified_credentials.put(engine, key, digest, principal)
        return principal


class VerifiedCredentials:
    """Credential pairs verified recently, per process and per database engine:
    key -> (secret digest, principal, until). At most ``size`` keys per engine;
    ``ttl`` 0 turns the cache off. Entries go with their engine (tests build one
    engine per database, so a principal never outlives the rows it names)."""

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: WeakKeyDictionary[object, dict[str, tuple[str, Principal, float]]] = (
            WeakKeyDictionary()
        )

    def configure(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries.clear()

    def get(self, engine: object, key: str, digest: str) -> Principal | None:
        entries = self._entries.get(engine)
        entry = entries.get(key) if entries is not None else None
        if entries is None or entry is None:
            return None
        known, principal, until = entry
        if time.monotonic() >= until:
            entries.pop(key, None)
            return None
        return principal if hmac.compare_digest(known, digest) else None

    def put(self, engine: object, key: str, digest: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        entries = self._entries.setdefault(engine, {})
        if len(entries) >= self.size:
            entries.clear()
        entries[key] = (digest, principal, time.monotonic() + self.ttl)

    def forget(self, key: str) -> None:
        for entries in list(self._entries.values()):
            entries.pop(key, None)


def _engine_of(session: AsyncSession) -> object:
    bind = session.get_bind()
    return getattr(bind, "engine", bind)


#: This process's cache of verified LRS credentials (see ``authenticate_basic``).
verified_credentials = VerifiedCredentials()


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy credential secret (never used for passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCredential:
    """A new credential; ``secret`` is shown this once and never stored."""

    credential: LrsCredential
    secret: str


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


credentials = CredentialService()
