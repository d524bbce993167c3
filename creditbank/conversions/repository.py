"""Every query of the conversions context."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.conversions.models import (
    ApplicationStatus,
    ConversionApplication,
    ConversionConsumption,
    ConversionReview,
    InboxMessage,
)


class ConversionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ConversionRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def get(
        self, application_id: uuid.UUID, *, for_update: bool = False
    ) -> ConversionApplication | None:
        query = select(ConversionApplication).where(ConversionApplication.id == application_id)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    async def of_learner(
        self, learner_id: uuid.UUID, *, status: str | None = None
    ) -> list[ConversionApplication]:
        query = select(ConversionApplication).where(ConversionApplication.learner_id == learner_id)
        if status is not None:
            query = query.where(ConversionApplication.status == status)
        result = await self.session.execute(query.order_by(ConversionApplication.created_at))
        return list(result.scalars())

    async def queue(
        self,
        *,
        scopes: frozenset[tuple[str, str]] | None,
        statuses: Iterable[str],
        limit: int,
    ) -> list[ConversionApplication]:
        """Applications in ``statuses``; ``scopes`` None = all, else the certifier's scopes."""
        query = select(ConversionApplication).where(
            ConversionApplication.status.in_(list(statuses))
        )
        if scopes is not None:
            institutions = [value for kind, value in scopes if kind == "institution"]
            programmes = [value for kind, value in scopes if kind == "programme"]
            if not institutions and not programmes:
                return []
            query = query.where(
                or_(
                    ConversionApplication.target_institution_key.in_(institutions),
                    ConversionApplication.programme.in_(programmes),
                )
            )
        result = await self.session.execute(
            query.order_by(ConversionApplication.created_at).limit(limit)
        )
        return list(result.scalars())

    async def add(self, application: ConversionApplication) -> None:
        self.session.add(application)
        await self.session.flush()

    async def reviews(self, application_id: uuid.UUID) -> list[ConversionReview]:
        result = await self.session.execute(
            select(ConversionReview)
            .where(ConversionReview.application_id == application_id)
            .order_by(ConversionReview.created_at)
        )
        return list(result.scalars())

    async def add_review(self, review: ConversionReview) -> None:
        self.session.add(review)
        await self.session.flush()

    async def consume(self, rows: list[ConversionConsumption]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def consumed_outcomes(self, learner_id: uuid.UUID) -> set[uuid.UUID]:
        result = await self.session.execute(
            select(ConversionConsumption.outcome_id).where(
                ConversionConsumption.learner_id == learner_id
            )
        )
        return set(result.scalars())

    async def approved_of(self, learner_id: uuid.UUID) -> list[ConversionApplication]:
        return await self.of_learner(learner_id, status=ApplicationStatus.APPROVED.value)

    # -- inbox ---------------------------------------------------------------------------

    async def add_message(self, message: InboxMessage) -> None:
        self.session.add(message)
        await self.session.flush()

    async def messages(
        self, learner_id: uuid.UUID, *, unread_only: bool, limit: int
    ) -> list[InboxMessage]:
        query = select(InboxMessage).where(InboxMessage.learner_id == learner_id)
        if unread_only:
            query = query.where(InboxMessage.read_at.is_(None))
        result = await self.session.execute(
            query.order_by(InboxMessage.created_at.desc()).limit(limit)
        )
        return list(result.scalars())

    async def message(self, message_id: uuid.UUID) -> InboxMessage | None:
        return await self.session.get(InboxMessage, message_id)

    async def all_messages(self, learner_id: uuid.UUID) -> list[InboxMessage]:
        result = await self.session.execute(
            select(InboxMessage)
            .where(InboxMessage.learner_id == learner_id)
            .order_by(InboxMessage.created_at, InboxMessage.id)
        )
        return list(result.scalars())

    async def delete_messages(self, learner_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(InboxMessage).where(InboxMessage.learner_id == learner_id)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def mark_all_read(self, learner_id: uuid.UUID, at: object) -> int:
        result = await self.session.execute(
            update(InboxMessage)
            .where(InboxMessage.learner_id == learner_id, InboxMessage.read_at.is_(None))
            .values(read_at=at)
        )
        return int(getattr(result, "rowcount", 0) or 0)
