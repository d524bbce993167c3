"""Institutions and LRS credentials: registration and authentication."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import BadRequest, Conflict, NotFound, Unauthorized
from creditbank.identity.models import Institution, InstitutionType, LrsCredential
from creditbank.identity.principal import LRS_SCOPES, Principal, expand_scopes
from creditbank.identity.repository import IdentityRepository
from creditbank.kit.time import utc_now

DEFAULT_LRS_SCOPES = ("statements/write", "statements/read/mine", "state", "profile", "define")


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
            accredited_from=utc_now() if accredited else None,
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
    ) -> IssuedCredential:
        """Create an LRS credential for ``institution``; the secret is returned once."""
        unknown = set(scopes) - LRS_SCOPES
        if unknown:
            raise BadRequest(f"unknown scopes: {sorted(unknown)}", code="invalid_scope")
        secret = secrets.token_urlsafe(32)
        credential = LrsCredential(
            institution_id=institution.id,
            key=f"{institution.key}-{secrets.token_hex(6)}",
            secret_hash=hash_secret(secret),
            scopes=sorted(set(scopes)),
            label=label,
        )
        session.add(credential)
        await session.flush()
        return IssuedCredential(credential=credential, secret=secret)

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
        authority={
            "objectType": "Agent",
            "name": institution.name_zh,
            "account": {"homePage": home_page, "name": credential.key},
        },
    )


identity = IdentityService()
