"""Every query of the identity context."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from creditbank.identity.models import Institution, LrsCredential


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> IdentityRepository:
        return cls(session)

    async def institution_by_key(self, key: str) -> Institution | None:
        result = await self.session.execute(select(Institution).where(Institution.key == key))
        return result.scalar_one_or_none()

    async def institution_by_id(self, institution_id: uuid.UUID) -> Institution | None:
        return await self.session.get(Institution, institution_id)

    async def list_institutions(self) -> list[Institution]:
        result = await self.session.execute(select(Institution).order_by(Institution.key))
        return list(result.scalars())

    async def credential_by_key(self, key: str) -> LrsCredential | None:
        result = await self.session.execute(
            select(LrsCredential)
            .options(joinedload(LrsCredential.institution))
            .where(LrsCredential.key == key)
        )
        return result.scalar_one_or_none()

    async def credentials_of(self, institution: Institution) -> list[LrsCredential]:
        result = await self.session.execute(
            select(LrsCredential)
            .where(LrsCredential.institution_id == institution.id)
            .order_by(LrsCredential.created_at)
        )
        return list(result.scalars())
