"""Every query of the audit context."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.models import AuditEntry
from creditbank.audit.schemas import EXACT_FILTERS, AuditFilter


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AuditRepository:
        return cls(session)

    async def insert(self, row: dict[str, Any]) -> None:
        await self.session.execute(insert(AuditEntry), [row])

    async def query(self, filters: AuditFilter) -> list[AuditEntry]:
        query = select(AuditEntry)
        for name in EXACT_FILTERS:
            value = getattr(filters, name)
            if value is not None:
                query = query.where(getattr(AuditEntry, name) == value)
        if filters.since is not None:
            query = query.where(AuditEntry.at >= filters.since)
        if filters.until is not None:
            query = query.where(AuditEntry.at < filters.until)
        if filters.before_id is not None:
            query = query.where(AuditEntry.id < filters.before_id)
        result = await self.session.execute(
            query.order_by(AuditEntry.id.desc()).limit(filters.limit)
        )
        return list(result.scalars())
