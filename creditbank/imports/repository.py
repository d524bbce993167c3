"""Every query of the imports context."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from creditbank.imports.models import ImportBatch


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ImportRepository:
        return cls(session)

    async def add(self, batch: ImportBatch) -> ImportBatch:
        self.session.add(batch)
        await self.session.flush()
        return batch

    async def get(
        self,
        institution_id: uuid.UUID,
        import_id: uuid.UUID,
        *,
        for_update: bool = False,
        with_content: bool = False,
    ) -> ImportBatch | None:
        query = select(ImportBatch).where(
            ImportBatch.id == import_id, ImportBatch.institution_id == institution_id
        )
        if with_content:
            query = query.options(undefer(ImportBatch.content))
        if for_update and self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    async def of_institution(self, institution_id: uuid.UUID, *, limit: int) -> list[ImportBatch]:
        result = await self.session.execute(
            select(ImportBatch)
            .where(ImportBatch.institution_id == institution_id)
            .order_by(ImportBatch.created_at.desc())
            .limit(limit)
        )
        return list(result.scalars())
