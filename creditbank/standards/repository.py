"""Every query of the standards context."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.standards.models import StandardsVersion


class StandardsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> StandardsRepository:
        return cls(session)

    async def by_version(self, set_id: str, version: str) -> StandardsVersion | None:
        result = await self.session.execute(
            select(StandardsVersion).where(
                StandardsVersion.set_id == set_id, StandardsVersion.version == version
            )
        )
        return result.scalar_one_or_none()

    async def by_id(self, version_id: uuid.UUID) -> StandardsVersion | None:
        return await self.session.get(StandardsVersion, version_id)

    async def by_hash(self, content_hash: str) -> StandardsVersion | None:
        result = await self.session.execute(
            select(StandardsVersion)
            .where(StandardsVersion.content_hash == content_hash)
            .order_by(StandardsVersion.published_at)
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def with_version(self, version: str) -> list[StandardsVersion]:
        result = await self.session.execute(
            select(StandardsVersion).where(StandardsVersion.version == version)
        )
        return list(result.scalars())

    async def in_force(self, on: date, set_id: str | None) -> StandardsVersion | None:
        query = select(StandardsVersion).where(StandardsVersion.effective_from <= on)
        if set_id is not None:
            query = query.where(StandardsVersion.set_id == set_id)
        result = await self.session.execute(
            query.order_by(
                StandardsVersion.effective_from.desc(), StandardsVersion.published_at.desc()
            ).limit(1)
        )
        return result.scalar_one_or_none()

    async def in_force_key(self, on: date, set_id: str | None) -> tuple[uuid.UUID, str] | None:
        """Id and content hash of the version in force (the content is not loaded)."""
        query = select(StandardsVersion.id, StandardsVersion.content_hash).where(
            StandardsVersion.effective_from <= on
        )
        if set_id is not None:
            query = query.where(StandardsVersion.set_id == set_id)
        result = await self.session.execute(
            query.order_by(
                StandardsVersion.effective_from.desc(), StandardsVersion.published_at.desc()
            ).limit(1)
        )
        row = result.first()
        return None if row is None else (row[0], row[1])

    async def list(self, set_id: str | None = None) -> list[StandardsVersion]:
        query = select(StandardsVersion)
        if set_id is not None:
            query = query.where(StandardsVersion.set_id == set_id)
        result = await self.session.execute(
            query.order_by(StandardsVersion.effective_from, StandardsVersion.published_at)
        )
        return list(result.scalars())

    async def add(self, version: StandardsVersion) -> StandardsVersion:
        self.session.add(version)
        await self.session.flush()
        return version
