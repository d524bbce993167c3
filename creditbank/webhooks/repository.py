"""Every query of the webhooks context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.webhooks.models import Attempt, Delivery, ForwardingTarget, Subscription


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> WebhookRepository:
        return cls(session)

    async def add(self, row: Subscription | Attempt | ForwardingTarget) -> None:
        self.session.add(row)
        await self.session.flush()

    async def subscriptions_of(self, institution_id: uuid.UUID) -> list[Subscription]:
        query = (
            select(Subscription)
            .where(Subscription.institution_id == institution_id)
            .order_by(Subscription.created_at, Subscription.id)
        )
        return list((await self.session.scalars(query)).all())

    async def enabled_subscriptions(self) -> list[Subscription]:
        """Every enabled subscription (a small table: one row per institution endpoint)."""
        query = select(Subscription).where(Subscription.enabled.is_(True))
        return list((await self.session.scalars(query)).all())

    async def subscription(
        self, subscription_id: uuid.UUID, *, institution_id: uuid.UUID | None = None
    ) -> Subscription | None:
        query = select(Subscription).where(Subscription.id == subscription_id)
        if institution_id is not None:
            query = query.where(Subscription.institution_id == institution_id)
        return (await self.session.scalars(query)).one_or_none()

    async def delete_subscription(self, subscription_id: uuid.UUID) -> None:
        # Deliveries and attempts go with it (explicitly: SQLite may not enforce the FK).
        deliveries = select(Delivery.id).where(Delivery.subscription_id == subscription_id)
        await self.session.execute(delete(Attempt).where(Attempt.delivery_id.in_(deliveries)))
        await self.session.execute(
            delete(Delivery).where(Delivery.subscription_id == subscription_id)
        )
        await self.session.execute(delete(Subscription).where(Subscription.id == subscription_id))

    async def insert_deliveries(self, rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
        """Insert deliveries; one already made for (subscription, event) is skipped.
        Returns the ids of the rows inserted."""
        if not rows:
            return []
        if self.session.get_bind().dialect.name == "postgresql":
            statement: Any = pg_insert(Delivery).values(list(rows))
        else:
            statement = sqlite_insert(Delivery).values(list(rows))
        statement = statement.on_conflict_do_nothing().returning(Delivery.id)
        return list((await self.session.scalars(statement)).all())

    async def delivery(
        self, delivery_id: uuid.UUID, *, subscription_id: uuid.UUID | None = None
    ) -> Delivery | None:
        query = select(Delivery).where(Delivery.id == delivery_id)
        if subscription_id is not None:
            query = query.where(Delivery.subscription_id == subscription_id)
        return (await self.session.scalars(query)).one_or_none()

    async def deliveries(
        self, subscription_id: uuid.UUID, *, status: str | None, limit: int
    ) -> list[Delivery]:
        query = select(Delivery).where(Delivery.subscription_id == subscription_id)
        if status is not None:
            query = query.where(Delivery.status == status)
        query = query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
        return list((await self.session.scalars(query)).all())

    async def attempts(self, delivery_id: uuid.UUID) -> list[Attempt]:
        query = select(Attempt).where(Attempt.delivery_id == delivery_id).order_by(Attempt.id)
        return list((await self.session.scalars(query)).all())

    async def forwarding_of(self, institution_id: uuid.UUID) -> ForwardingTarget | None:
        query = select(ForwardingTarget).where(ForwardingTarget.institution_id == institution_id)
        return (await self.session.scalars(query)).one_or_none()

    async def forwarding(self, target_id: uuid.UUID) -> ForwardingTarget | None:
        return await self.session.get(ForwardingTarget, target_id)

    async def enabled_forwarding(self) -> list[ForwardingTarget]:
        query = select(ForwardingTarget).where(ForwardingTarget.enabled.is_(True))
        return list((await self.session.scalars(query)).all())

    async def delete_forwarding(self, target_id: uuid.UUID) -> None:
        await self.session.execute(delete(ForwardingTarget).where(ForwardingTarget.id == target_id))
