"""An institution's outgoing webhooks: ``/api/v1/institutions/{key}/webhooks``.

Subscriptions (the secret is in the answer to ``POST`` only), their delivery log
(every attempt: status code, latency, error) and replay. Authorization is the
service's (``webhooks.manage``: the institution's admin, the operator).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response, status

from api.auth import CurrentPrincipal
from api.deps import SessionDep, SettingsDep
from api.v1.common import KeyringDep
from creditbank.webhooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    ForwardingRead,
    ForwardingSet,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)
from creditbank.webhooks.service import forwarding as forwarding_service
from creditbank.webhooks.service import webhooks as webhooks_service

router = APIRouter(prefix="/api/v1/institutions/{key}/webhooks", tags=["webhooks"])


@router.post("", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED)
async def subscribe(
    key: str,
    body: SubscriptionCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    settings: SettingsDep,
) -> object:
    subscription, secret = await webhooks_service.subscribe(
        session, principal, key, body, keyring=keyring, settings=settings
    )
    return {**SubscriptionRead.model_validate(subscription).model_dump(), "secret": secret}


@router.get("", response_model=list[SubscriptionRead])
async def list_subscriptions(key: str, principal: CurrentPrincipal, session: SessionDep) -> object:
    return await webhooks_service.subscriptions(session, principal, key)


@router.get("/{subscription_id}", response_model=SubscriptionRead)
async def get_subscription(
    key: str, subscription_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> object:
    return await webhooks_service.get(session, principal, key, subscription_id)


@router.patch("/{subscription_id}", response_model=SubscriptionRead)
async def update_subscription(
    key: str,
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> object:
    return await webhooks_service.update(
        session, principal, key, subscription_id, body, settings=settings
    )


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(
    key: str, subscription_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    await webhooks_service.delete(session, principal, key, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    key: str,
    subscription_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    delivery_status: str | None = Query(default=None, alias="status"),
    limit: int = Query(default=100, ge=1, le=500),
) -> object:
    return await webhooks_service.deliveries(
        session, principal, key, subscription_id, status=delivery_status, limit=limit
    )


@router.get("/{subscription_id}/deliveries/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(
    key: str,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> object:
    return await webhooks_service.delivery(session, principal, key, subscription_id, delivery_id)


@router.post("/{subscription_id}/deliveries/{delivery_id}/replay", response_model=DeliveryDetail)
async def replay_delivery(
    key: str,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> object:
    return await webhooks_service.replay(session, principal, key, subscription_id, delivery_id)


forwarding_router = APIRouter(prefix="/api/v1/institutions/{key}/forwarding", tags=["webhooks"])


@forwarding_router.put("", response_model=ForwardingRead)
async def set_forwarding(
    key: str,
    body: ForwardingSet,
    principal: CurrentPrincipal,
    session: SessionDep,
    keyring: KeyringDep,
    settings: SettingsDep,
) -> object:
    return await forwarding_service.set(
        session, principal, key, body, keyring=keyring, settings=settings
    )


@forwarding_router.get("", response_model=ForwardingRead)
async def get_forwarding(key: str, principal: CurrentPrincipal, session: SessionDep) -> object:
    return await forwarding_service.get(session, principal, key)


@forwarding_router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def delete_forwarding(key: str, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await forwarding_service.delete(session, principal, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
