"""Record and query audit entries; recording joins the caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.models import AuditEntry
from creditbank.audit.repository import AuditRepository
from creditbank.audit.schemas import AuditFilter
from creditbank.db import Database, detached_scope
from creditbank.errors import DomainError
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.kit.logging import request_id_var
from creditbank.kit.time import utc_now

MAX_LIMIT = 500


def _actor(actor: Principal | str) -> tuple[str, str | None, str | None]:
    if isinstance(actor, str):
        return "system", None, actor
    label = actor.label or actor.institution_key
    return actor.kind, str(actor.id) if actor.id is not None else None, label


class AuditService:
    async def record(
        self,
        session: AsyncSession,
        *,
        actor: Principal | str,
        action: str,
        object_type: str,
        object_id: object | None = None,
        detail: Mapping[str, Any] | None = None,
        ip: str | None = None,
        outcome: str = "allowed",
    ) -> None:
        """Append one entry in ``session``'s transaction (it commits or vanishes with it).

        ``actor`` is the principal, or a string naming a system actor (``"cli"``,
        ``"worker"``). ``detail`` must never hold personal data: ids and reasons only.
        """
        kind, actor_id, label = _actor(actor)
        await AuditRepository.from_session(session).insert(
            {
                "at": utc_now(),
                "actor_kind": kind,
                "actor_id": actor_id,
                "actor_label": label,
                "action": action,
                "outcome": outcome,
                "object_type": object_type,
                "object_id": None if object_id is None else str(object_id),
                "detail": dict(detail or {}),
                "ip": ip,
                "request_id": request_id_var.get(),
            }
        )

    async def record_detached(self, database: Database, **entry: Any) -> None:
        """Record in a transaction of its own: for refusals whose own transaction rolls back."""
        async with database.session_scope() as session:
            await self.record(session, **entry)

    @asynccontextmanager
    async def refusals(
        self,
        session: AsyncSession,
        *,
        actor: Principal | str,
        action: str,
        object_type: str,
        object_id: object | None = None,
        ip: str | None = None,
    ) -> AsyncIterator[None]:
        """Audit a refusal of the block: a 4xx ``DomainError`` rolls ``session`` back (nothing
        of the refused operation stands), is recorded as ``denied`` in a transaction of its
        own (so the entry survives) and is re-raised. Services wrap what they refuse."""
        try:
            yield
        except DomainError as exc:
            if 400 <= exc.status_code < 500:
                # Release the caller's transaction first (SQLite has one writer).
                await session.rollback()
                async with detached_scope(session) as own:
                    await self.record(
                        own,
                        actor=actor,
                        action=action,
                        object_type=object_type,
                        object_id=object_id,
                        detail={"error": exc.code},
                        ip=ip,
                        outcome="denied",
                    )
            raise

    async def read(
        self, session: AsyncSession, principal: Principal, filters: AuditFilter
    ) -> list[AuditEntry]:
        """:meth:`query` for the operator (``audit.read``)."""
        authz.authorize(principal, "audit.read")
        return await self.query(session, filters)

    async def query(self, session: AsyncSession, filters: AuditFilter) -> list[AuditEntry]:
        """Newest first; page with ``before_id`` = the last id of the previous page."""
        limit = max(1, min(filters.limit, MAX_LIMIT))
        return await AuditRepository.from_session(session).query(
            filters.model_copy(update={"limit": limit})
        )


audit = AuditService()
