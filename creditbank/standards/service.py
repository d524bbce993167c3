"""Publishing standards versions and finding the one in force.

A version, once published, never changes: publishing the same content again is a
no-op, publishing different content under a published ``id`` + ``version`` is a
conflict. The set in force at a moment is the published version with the latest
``effective_from`` on or before that day (the later publication wins a tie),
optionally restricted to one set id (``settings.rules.standards_set``).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.errors import Conflict, NotFound, ValidationFailed
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.standards.loader import load_standards
from creditbank.standards.models import StandardsVersion
from creditbank.standards.repository import StandardsRepository
from creditbank.standards.schemas import Institution, StandardsSet, Unit

#: Parsed sets kept per process, by content hash (a set is immutable, so is its parse).
CACHE_SIZE = 16


class StandardsVersionImmutable(Conflict):
    """A published version cannot change; publish a new version instead."""

    code = "standards_version_immutable"


class StandardsCorrupted(Conflict):
    """The stored content no longer hashes to the recorded content hash."""

    code = "standards_corrupted"


class NoStandardsInForce(NotFound):
    """No published standards version is in force at that moment."""

    code = "no_standards_in_force"


class StandardsChangedSinceReview(Conflict):
    """The set to publish is not the one whose dry run the operator reviewed."""

    code = "standards_changed_since_review"


@dataclass(frozen=True)
class MappedActivity:
    """One activity of an institution and the catalog unit it maps to."""

    activity: str
    match: str
    hours: Decimal | None
    unit_code: str
    unit: Unit | None
    in_scope: bool


@dataclass(frozen=True)
class InstitutionMappings:
    """An institution's entry in the standards in force, with its activity mappings."""

    version: StandardsVersion
    institution: Institution | None
    mappings: list[MappedActivity]


@dataclass(frozen=True)
class Published:
    """A stored version and its parsed set."""

    row: StandardsVersion
    standards: StandardsSet
    created: bool = False


def actor_label(principal: Principal) -> str:
    """Who published or re-evaluated, as stored with the version or the ledger entries."""
    return f"user:{principal.id}" if principal.id else "operator"


class StandardsService:
    """Versions of the standards as data in the database."""

    def __init__(self) -> None:
        self._cache: OrderedDict[str, StandardsSet] = OrderedDict()
        # Rows of versions found in force (immutable, so safe to keep), by id.
        self._rows: dict[uuid.UUID, StandardsVersion] = {}

    def validate(self, directory: Path) -> StandardsSet:
        """Load and check a set directory; :class:`InvalidStandards` lists every problem."""
        return load_standards(Path(directory))

    def draft(self, standards: StandardsSet, *, actor: str) -> Published:
        """``standards`` as a version not stored (never added to a session): what a dry
        run before publishing evaluates with."""
        meta = standards.meta
        row = StandardsVersion(
            set_id=meta.id,
            version=meta.version,
            effective_from=meta.effective_from,
            content_hash=standards.content_hash,
            title_zh=meta.title.zh,
            title_en=meta.title.en,
            content={},
            published_by=actor,
        )
        return Published(row, standards)

    async def publish(
        self, session: AsyncSession, standards: StandardsSet, *, actor: str
    ) -> Published:
        """Store ``standards`` as a published version (idempotent for identical content)."""
        repo = StandardsRepository.from_session(session)
        meta = standards.meta
        existing = await repo.by_version(meta.id, meta.version)
        if existing is not None:
            if existing.content_hash != standards.content_hash:
                raise StandardsVersionImmutable(
                    f"standards {meta.id} version {meta.version} is published with different "
                    f"content (hash {existing.content_hash[:12]}); publish a new version / "
                    f"该版本已发布且不可更改，请发布新版本"
                )
            return Published(existing, self._remember(standards))
        row = StandardsVersion(
            set_id=meta.id,
            version=meta.version,
            effective_from=meta.effective_from,
            content_hash=standards.content_hash,
            title_zh=meta.title.zh,
            title_en=meta.title.en,
            content=standards.model_dump(mode="json", by_alias=True),
            published_by=actor,
        )
        await repo.add(row)
        return Published(row, self._remember(standards), created=True)

    async def publish_content(
        self,
        session: AsyncSession,
        principal: Principal,
        content: dict[str, Any],
        *,
        reviewed_hash: str | None = None,
        ip: str | None = None,
    ) -> Published:
        """Publish a set given as JSON (the operator); a bad set is refused with every problem.

        ``reviewed_hash``: the content hash the operator saw in the dry run; a set whose
        content hashes otherwise is refused, so what is published is what was reviewed.
        A new version is audited (``standards.publish``) in the same transaction.
        """
        authz.authorize(principal, "standards.publish")
        loaded = self.parse_content(principal, content)
        if reviewed_hash is not None and loaded.content_hash != reviewed_hash:
            raise StandardsChangedSinceReview(
                "the set differs from the one reviewed in the dry run; review it again / "
                "标准内容与预览时不同，请重新预览"
            )
        published = await self.publish(session, loaded, actor=actor_label(principal))
        if published.created:
            await audit_service.record(
                session,
                actor=principal,
                action="standards.publish",
                object_type="standards_version",
                object_id=published.row.id,
                detail={
                    "set_id": loaded.meta.id,
                    "version": loaded.meta.version,
                    "hash": loaded.content_hash,
                },
                ip=ip,
            )
        return published

    def parse_content(self, principal: Principal, content: dict[str, Any]) -> StandardsSet:
        """A set given as JSON, checked (the operator); :class:`ValidationFailed` lists
        every problem."""
        authz.authorize(principal, "standards.publish")
        try:
            return StandardsSet.model_validate(content)
        except ValidationError as exc:
            raise ValidationFailed(str(exc), code="invalid_standards") from exc

    async def mappings_for(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        institution_id: uuid.UUID,
        institution_key: str,
        set_id: str | None = None,
    ) -> InstitutionMappings:
        """The catalog mappings an institution owns in the standards in force: what each
        of its activities maps to (for its admin or the operator)."""
        authz.authorize(
            principal, "standards.mappings", authz.Resource(institution_id=institution_id)
        )
        published = await self.in_force(session, set_id=set_id)
        found = published.standards.institution(institution_key)
        rows: list[MappedActivity] = []
        for mapping in found.mappings if found else ():
            unit = published.standards.unit(mapping.unit)
            rows.append(
                MappedActivity(
                    activity=mapping.activity,
                    match=mapping.match.value,
                    hours=mapping.hours,
                    unit=unit,
                    unit_code=mapping.unit,
                    in_scope=bool(found and unit and found.scope.covers(unit)),
                )
            )
        return InstitutionMappings(version=published.row, institution=found, mappings=rows)

    async def versions_for(
        self, session: AsyncSession, principal: Principal, *, set_id: str | None = None
    ) -> list[StandardsVersion]:
        """Published versions, for anyone signed in."""
        authz.authorize(principal, "standards.read")
        return await self.list_versions(session, set_id=set_id)

    async def versions_to_manage(
        self, session: AsyncSession, principal: Principal, *, set_id: str | None = None
    ) -> tuple[list[StandardsVersion], StandardsVersion | None]:
        """Every published version, newest first, and the one in force (``None`` when
        none is): the operator's view before publishing another."""
        authz.authorize(principal, "standards.publish")
        versions = await self.list_versions(session)
        try:
            in_force: StandardsVersion | None = (await self.in_force(session, set_id=set_id)).row
        except NoStandardsInForce:
            in_force = None
        return list(reversed(versions)), in_force

    async def in_force_for(
        self, session: AsyncSession, principal: Principal, *, set_id: str | None = None
    ) -> StandardsVersion:
        """The version in force now, for anyone signed in."""
        authz.authorize(principal, "standards.read")
        return (await self.in_force(session, set_id=set_id)).row

    async def version_for(
        self, session: AsyncSession, principal: Principal, set_id: str, version: str
    ) -> StandardsVersion:
        """One published version with its content, for anyone signed in."""
        authz.authorize(principal, "standards.read")
        return (await self.get_version(session, set_id, version)).row

    async def publish_directory(
        self, session: AsyncSession, directory: Path, *, actor: str
    ) -> Published:
        return await self.publish(session, self.validate(directory), actor=actor)

    async def list_versions(
        self, session: AsyncSession, *, set_id: str | None = None
    ) -> list[StandardsVersion]:
        return await StandardsRepository.from_session(session).list(set_id)

    async def get_version(self, session: AsyncSession, set_id: str, version: str) -> Published:
        row = await StandardsRepository.from_session(session).by_version(set_id, version)
        if row is None:
            raise NotFound(
                f"no standards {set_id} version {version} / 标准版本不存在",
                code="standards_version_not_found",
            )
        return Published(row, self.parse(row))

    async def get_by_id(self, session: AsyncSession, version_id: uuid.UUID) -> Published:
        row = await StandardsRepository.from_session(session).by_id(version_id)
        if row is None:
            raise NotFound(
                f"no standards version {version_id} / 标准版本不存在",
                code="standards_version_not_found",
            )
        return Published(row, self.parse(row))

    async def find(
        self, session: AsyncSession, version: str, *, set_id: str | None = None
    ) -> Published:
        """A version by ``version`` (and ``set_id`` when two sets share a version name)."""
        if set_id is not None:
            return await self.get_version(session, set_id, version)
        rows = await StandardsRepository.from_session(session).with_version(version)
        if not rows:
            raise NotFound(
                f"no standards version {version} / 标准版本不存在",
                code="standards_version_not_found",
            )
        if len(rows) > 1:
            raise Conflict(
                f"several sets have version {version}; name the set",
                code="standards_version_ambiguous",
            )
        return Published(rows[0], self.parse(rows[0]))

    async def in_force(
        self, session: AsyncSession, at: datetime | None = None, *, set_id: str | None = None
    ) -> Published:
        """The version in force at ``at`` (now by default)."""
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        repo = StandardsRepository.from_session(session)
        key = await repo.in_force_key(moment.date(), set_id)
        if key is not None:
            # The hot path (every statement): no content transferred when the parse is cached.
            version_id, content_hash = key
            cached = self._rows.get(version_id)
            if cached is not None and cached.content_hash == content_hash:
                return Published(cached, self.parse(cached))
        row = await repo.in_force(moment.date(), set_id)
        if row is None:
            which = f" of set {set_id}" if set_id else ""
            raise NoStandardsInForce(
                f"no standards version{which} is in force on {moment.date().isoformat()} / "
                "没有生效的标准版本"
            )
        published = Published(row, self.parse(row))
        # Detached with its attributes loaded: a later rollback of this session cannot
        # expire the cached copy.
        session.expunge(row)
        self._rows[row.id] = row
        return published

    def parse(self, row: StandardsVersion) -> StandardsSet:
        """The parsed set of a stored version, its hash checked."""
        cached = self._cache.get(row.content_hash)
        if cached is not None:
            self._cache.move_to_end(row.content_hash)
            return cached
        standards = StandardsSet.model_validate(row.content)
        if standards.content_hash != row.content_hash:
            raise StandardsCorrupted(
                f"standards {row.set_id} {row.version}: stored content hashes to "
                f"{standards.content_hash[:12]}, not {row.content_hash[:12]}"
            )
        return self._remember(standards)

    def _remember(self, standards: StandardsSet) -> StandardsSet:
        self._cache[standards.content_hash] = standards
        self._cache.move_to_end(standards.content_hash)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return standards


standards = StandardsService()
