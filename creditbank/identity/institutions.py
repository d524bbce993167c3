"""Institutions: registration, homePages, accreditation.

An institution owns the account homePages its learners' xAPI agents use, and is
accredited for a period and a scope (the rules engine asks ``is_accredited``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit
from creditbank.errors import BadRequest, Conflict, NotFound
from creditbank.identity import authz
from creditbank.identity.authz import Resource
from creditbank.identity.models import Institution, InstitutionType
from creditbank.identity.principal import Principal
from creditbank.identity.repository import IdentityRepository
from creditbank.kit.time import isoformat_z, utc_now


class InstitutionService:
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

    # -- acting for a caller -----------------------------------------------------

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
            require_absolute_iri(page, "homePage")
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
        async with audit.refusals(
            session,
            actor=actor,
            action="institution.accredit",
            object_type="institution",
            object_id=institution.id,
            ip=ip,
        ):
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

    async def home_page_owners(self, session: AsyncSession) -> dict[str, Institution]:
        """Every registered account homePage (normalised, see ``normalise_home_page``)
        and the institution that owns it: the LRS refuses statements asserting about
        another institution's accounts."""
        owners: dict[str, Institution] = {}
        for institution in await IdentityRepository.from_session(session).list_institutions():
            for page in institution.home_pages:
                owners[normalise_home_page(page)] = institution
        return owners

    async def institution_by_id(
        self, session: AsyncSession, institution_id: uuid.UUID
    ) -> Institution | None:
        """The institution with this id (the rules engine resolves a statement's sender)."""
        return await IdentityRepository.from_session(session).institution_by_id(institution_id)

    async def institutions_by_ids(
        self, session: AsyncSession, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Institution]:
        """Batch :meth:`institution_by_id` (one query)."""
        return await IdentityRepository.from_session(session).institutions_by_ids(ids)


def normalise_home_page(page: str) -> str:
    """A homePage as ownership compares it: scheme and host lowercased, no trailing ``/``
    (so ``https://MOOC1.example.cn/`` is still the MOOC platform's)."""
    parts = urlsplit(page.strip())
    lowered = parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower())
    return lowered.geturl().rstrip("/")


def require_absolute_iri(value: str, what: str) -> None:
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path) or "|" in value:
        raise BadRequest(f"{what} must be an absolute IRI: {value!r}", code="invalid_iri")


institutions = InstitutionService()
