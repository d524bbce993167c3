"""Every SQL statement of the document resources.

Writes are conditional on the ETag the service read (``WHERE etag = :seen``), so
two writers racing on one document never lose an update: the second sees no row
changed and the service answers with a precondition failure or retries its merge.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.lrs.documents.models import Document


class DocumentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> DocumentRepository:
        return cls(session)

    # -- reads --------------------------------------------------------------------------

    async def get(self, doc_key: str, *, lock: bool = False) -> Document | None:
        """The document at ``doc_key``; ``lock``: hold its row until commit (PostgreSQL;
        SQLite write transactions are exclusive already)."""
        # populate_existing: a conditional UPDATE of this transaction may have changed it.
        query = (
            select(Document)
            .where(Document.doc_key == doc_key)
            .execution_options(populate_existing=True)
        )
        if lock and self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        result = await self.session.execute(query)
        return result.scalar_one_or_none()

    async def list_ids(
        self,
        scope_key: str,
        *,
        registration: uuid.UUID | None,
        since: datetime | None,
    ) -> tuple[list[str], datetime | None]:
        """The ids in a scope (optionally one registration, updated after ``since``)
        and the latest ``updated`` among them."""
        query = select(Document.doc_id, Document.updated).where(Document.scope_key == scope_key)
        if registration is not None:
            query = query.where(Document.registration == registration)
        if since is not None:
            query = query.where(Document.updated > since)
        rows = (await self.session.execute(query.order_by(Document.updated, Document.doc_id))).all()
        latest = max((row.updated for row in rows), default=None)
        # One id once, even when it exists under several registrations.
        return list(dict.fromkeys(row.doc_id for row in rows)), latest

    async def of_agents(self, agent_ifis: list[str]) -> list[Document]:
        """Every document (State, Agent Profile) of these agents; for a learner's export.

        Not indexed by agent: exports and erasures are rare operator actions.
        """
        if not agent_ifis:
            return []
        result = await self.session.execute(
            select(Document)
            .where(Document.agent_ifi.in_(agent_ifis))
            .order_by(Document.kind, Document.updated)
        )
        return list(result.scalars().all())

    # -- writes -------------------------------------------------------------------------

    async def insert(self, values: dict[str, Any]) -> None:
        """Insert one document; a concurrent insert of the same address raises
        ``IntegrityError`` (unique ``doc_key``) and leaves the transaction usable
        (the insert runs in a savepoint)."""
        async with self.session.begin_nested():
            await self.session.execute(insert(Document).values(**values))

    async def update_if(self, doc_id: uuid.UUID, seen_etag: str, values: dict[str, Any]) -> bool:
        """Replace the content if nobody changed it since it was read (ETag ``seen_etag``)."""
        result = await self.session.execute(
            update(Document)
            .where(Document.id == doc_id, Document.etag == seen_etag)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def delete_if(self, doc_id: uuid.UUID, seen_etag: str) -> bool:
        result = await self.session.execute(
            delete(Document)
            .where(Document.id == doc_id, Document.etag == seen_etag)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def delete_of_agents(self, agent_ifis: list[str]) -> int:
        if not agent_ifis:
            return 0
        result = await self.session.execute(
            delete(Document)
            .where(Document.agent_ifi.in_(agent_ifis))
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    async def delete_scope(self, scope_key: str, *, registration: uuid.UUID | None) -> int:
        query = delete(Document).where(Document.scope_key == scope_key)
        if registration is not None:
            query = query.where(Document.registration == registration)
        result = await self.session.execute(query.execution_options(synchronize_session=False))
        return _rowcount(result)


def _rowcount(result: Any) -> int:
    if isinstance(result, CursorResult):
        return int(result.rowcount)
    return 0
