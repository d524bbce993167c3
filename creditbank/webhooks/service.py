"""Institutions' outgoing webhooks: subscribe, hear of decisions, deliver them signed.

- Subscriptions (``webhooks.manage``: the institution's admin, the operator): an
  endpoint URL and the event types it wants (:data:`creditbank.kit.events.EVENT_TYPES`).
  The signing secret (``whsec_<base64>``) is generated here, encrypted at rest with
  the keyring and shown once, in the answer to the subscription.
- Events: :meth:`WebhookService.on_events` is the listener registered with
  :mod:`creditbank.kit.events` at start-up. It runs in the transaction of the
  decision (a worker's job, a certifier's request) and writes one delivery per
  matching subscription plus its job, so a rolled-back decision sends nothing and a
  decision emitted twice (a job run again) is delivered once (unique per
  subscription and event id).
- Delivery (:meth:`deliver`, the ``webhooks.deliver`` job): one POST with the
  Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64 HMAC-SHA256 over id.timestamp.body>``, signed by
  :func:`creditbank.client.sign_webhook`: one implementation for sender and
  receiver) and a short timeout. Each attempt is logged (status code, latency,
  error) in the job's transaction; a failure schedules the next attempt as a new
  job with exponential backoff (:func:`creditbank.jobs.service.backoff`), so the
  log survives the failure, until ``max_attempts`` makes the delivery dead. The
  institution reads the log and replays any delivery that is not in flight.

Ingest never waits for a receiver: only the worker talks to it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.client import sign_webhook
from creditbank.config import Settings
from creditbank.errors import Conflict, NotFound
from creditbank.identity.authz import Resource, authorize
from creditbank.identity.principal import Principal
from creditbank.identity.service import Institution
from creditbank.identity.service import identity as identity_service
from creditbank.jobs.service import backoff
from creditbank.jobs.service import jobs as jobs_service
from creditbank.kit.crypto import Keyring, KeyringError, keyring_for
from creditbank.kit.events import STATEMENT_RECOGNISED, STATEMENT_STORED, Event
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.lrs.service import get_statements_for_processing
from creditbank.webhooks.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    ForwardingTarget,
    Subscription,
)
from creditbank.webhooks.repository import WebhookRepository
from creditbank.webhooks.schemas import ForwardingSet, SubscriptionCreate, SubscriptionUpdate
from creditbank.webhooks.targets import UnsafeTarget, check_target, pinned

DELIVER_JOB = "webhooks.deliver"
FORWARD_JOB = "webhooks.forward"
CTX_FORWARDING = "webhooks.forwarding_password"
#: Associated data of the encrypted secret: it decrypts in this column only.
CTX_SECRET = "webhooks.secret"
MAX_ERROR_CHARS = 1000
USER_AGENT = "creditbank-webhooks/1"


class SubscriptionNotFound(NotFound):
    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


class DeliveryInFlight(Conflict):
    code = "webhook_delivery_pending"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def canonical_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class WebhookService:
    async def _institution(
        self, session: AsyncSession, principal: Principal, key: str
    ) -> Institution:
        institution = await identity_service.get_institution(session, key)
        authorize(principal, "webhooks.manage", Resource(institution_id=institution.id))
        return institution

    async def _subscription(
        self, session: AsyncSession, institution: Institution, subscription_id: uuid.UUID
    ) -> Subscription:
        found = await WebhookRepository.from_session(session).subscription(
            subscription_id, institution_id=institution.id
        )
        if found is None:
            raise SubscriptionNotFound(f"no webhook subscription {subscription_id} / 订阅不存在")
        return found

    # -- subscriptions ------------------------------------------------------------------

    async def subscribe(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        payload: SubscriptionCreate,
        *,
        keyring: Keyring,
        settings: Settings,
    ) -> tuple[Subscription, str]:
        """A new subscription and its secret (returned this once, stored encrypted); a URL
        the server must not request is refused (:mod:`creditbank.webhooks.targets`)."""
        institution = await self._institution(session, principal, key)
        await check_target(
            payload.url, allow_private=settings.private_targets_allowed, field_name="url"
        )
        secret = new_secret()
        now = utc_now()
        subscription = Subscription(
            institution_id=institution.id,
            institution_key=institution.key,
            url=payload.url,
            event_types=sorted(set(payload.event_types)),
            description=payload.description,
            secret_enc=keyring.encrypt(secret, context=CTX_SECRET),
            enabled=payload.enabled,
            created_by=principal.label,
            created_at=now,
            updated_at=now,
        )
        await WebhookRepository.from_session(session).add(subscription)
        await audit_service.record(
            session,
            actor=principal,
            action="webhooks.subscribe",
            object_type="webhook_subscription",
            object_id=subscription.id,
            detail={"institution": institution.key, "event_types": subscription.event_types},
        )
        return subscription, secret

    async def subscriptions(
        self, session: AsyncSession, principal: Principal, key: str
    ) -> list[Subscription]:
        institution = await self._institution(session, principal, key)
        return await WebhookRepository.from_session(session).subscriptions_of(institution.id)

    async def get(
        self, session: AsyncSession, principal: Principal, key: str, subscription_id: uuid.UUID
    ) -> Subscription:
        institution = await self._institution(session, principal, key)
        return await self._subscription(session, institution, subscription_id)

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        subscription_id: uuid.UUID,
        payload: SubscriptionUpdate,
        *,
        settings: Settings,
    ) -> Subscription:
        """Change the URL (checked as on subscribing), event types, description, or
        enable/disable it."""
        institution = await self._institution(session, principal, key)
        subscription = await self._subscription(session, institution, subscription_id)
        changes = payload.model_dump(exclude_unset=True, exclude_none=True)
        if "url" in changes:
            await check_target(
                changes["url"], allow_private=settings.private_targets_allowed, field_name="url"
            )
        if "event_types" in changes:
            changes["event_types"] = sorted(set(changes["event_types"]))
        for name, value in changes.items():
            setattr(subscription, name, value)
        subscription.updated_at = utc_now()
        await session.flush()
        await audit_service.record(
            session,
            actor=principal,
            action="webhooks.update",
            object_type="webhook_subscription",
            object_id=subscription.id,
            detail={"changed": sorted(changes)},
        )
        return subscription

    async def delete(
        self, session: AsyncSession, principal: Principal, key: str, subscription_id: uuid.UUID
    ) -> None:
        """Remove it with its delivery log; deliveries not yet sent are dropped."""
        institution = await self._institution(session, principal, key)
        subscription = await self._subscription(session, institution, subscription_id)
        await WebhookRepository.from_session(session).delete_subscription(subscription.id)
        await audit_service.record(
            session,
            actor=principal,
            action="webhooks.delete",
            object_type="webhook_subscription",
            object_id=subscription_id,
            detail={"institution": institution.key},
        )

    # -- the delivery log ---------------------------------------------------------------

    async def deliveries(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        subscription_id: uuid.UUID,
        *,
        status: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """The subscription's deliveries, newest first."""
        institution = await self._institution(session, principal, key)
        subscription = await self._subscription(session, institution, subscription_id)
        return await WebhookRepository.from_session(session).deliveries(
            subscription.id, status=status, limit=limit
        )

    async def _delivery(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        subscription_id: uuid.UUID,
        delivery_id: uuid.UUID,
    ) -> tuple[WebhookRepository, Delivery]:
        """The delivery of the institution's subscription, or DeliveryNotFound."""
        institution = await self._institution(session, principal, key)
        subscription = await self._subscription(session, institution, subscription_id)
        repo = WebhookRepository.from_session(session)
        found = await repo.delivery(delivery_id, subscription_id=subscription.id)
        if found is None:
            raise DeliveryNotFound(f"no delivery {delivery_id} / 投递记录不存在")
        return repo, found

    async def delivery(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        subscription_id: uuid.UUID,
        delivery_id: uuid.UUID,
    ) -> dict[str, Any]:
        """One delivery with its payload and every attempt."""
        repo, found = await self._delivery(session, principal, key, subscription_id, delivery_id)
        return _detail(found, await repo.attempts(found.id))

    async def replay(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        subscription_id: uuid.UUID,
        delivery_id: uuid.UUID,
    ) -> dict[str, Any]:
        """Send a delivery again (same ``webhook-id``, a fresh set of attempts)."""
        repo, found = await self._delivery(session, principal, key, subscription_id, delivery_id)
        if found.status == DeliveryStatus.PENDING.value:
            raise DeliveryInFlight(
                f"delivery {delivery_id} is still being attempted / 投递仍在进行中"
            )
        found.status = DeliveryStatus.PENDING.value
        found.next_attempt_at = utc_now()
        await session.flush()
        await jobs_service.enqueue(
            session,
            DELIVER_JOB,
            {"delivery_id": str(found.id), "base": found.attempts, "replay": True},
        )
        await audit_service.record(
            session,
            actor=principal,
            action="webhooks.replay",
            object_type="webhook_delivery",
            object_id=found.id,
            detail={"institution": key, "event_id": found.event_id},
        )
        return _detail(found, await repo.attempts(found.id))

    # -- events in, deliveries out ------------------------------------------------------

    async def on_events(self, session: AsyncSession, events: Sequence[Event]) -> None:
        """The event listener: one delivery (and job) per matching enabled subscription."""
        subscriptions = await WebhookRepository.from_session(session).enabled_subscriptions()
        if not subscriptions:
            return
        wanted = {t for s in subscriptions for t in s.event_types}
        events = [e for e in events if e.type in wanted]
        if not events:
            return
        unknown = [
            e.statement_id
            for e in events
            if e.statement_id is not None and e.institution_id is None and not e.institution_key
        ]
        senders = (
            {
                sid: stored.institution_id
                for sid, stored in (await get_statements_for_processing(session, unknown)).items()
            }
            if unknown
            else {}
        )
        now = utc_now()
        rows: list[dict[str, Any]] = []
        for event in events:
            institution_id = event.institution_id or (
                senders.get(event.statement_id) if event.statement_id is not None else None
            )
            for subscription in subscriptions:
                if event.type not in subscription.event_types:
                    continue
                if not (
                    (institution_id is not None and subscription.institution_id == institution_id)
                    or (
                        event.institution_key
                        and subscription.institution_key == event.institution_key
                    )
                ):
                    continue
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "subscription_id": subscription.id,
                        "institution_id": subscription.institution_id,
                        "event_id": event.id,
                        "event_type": event.type,
                        "payload": {
                            "id": event.id,
                            "type": event.type,
                            "timestamp": isoformat_z(now),
                            "institution": subscription.institution_key,
                            "data": event.data,
                        },
                        "status": DeliveryStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
        inserted = await WebhookRepository.from_session(session).insert_deliveries(rows)
        await jobs_service.enqueue_many(
            session, DELIVER_JOB, [{"delivery_id": str(i), "base": 0} for i in inserted]
        )

    async def deliver(
        self,
        session: AsyncSession,
        settings: Settings,
        delivery_id: uuid.UUID,
        *,
        base: int = 0,
        replay: bool = False,
    ) -> str:
        """One attempt of a pending delivery; returns its status afterwards."""
        repo = WebhookRepository.from_session(session)
        delivery = await repo.delivery(delivery_id)
        if delivery is None:
            return "missing"  # its subscription was deleted
        if delivery.status != DeliveryStatus.PENDING.value:
            return delivery.status  # a job run again after its attempt was recorded
        subscription = await repo.subscription(delivery.subscription_id)
        if subscription is None or not subscription.enabled:
            delivery.status = DeliveryStatus.SKIPPED.value
            delivery.last_error = "the subscription is disabled"
            delivery.next_attempt_at = None
            await session.flush()
            return delivery.status
        body = canonical_body(delivery.payload)
        msg_id = f"msg_{delivery.id.hex}"
        timestamp = int(time.time())
        status_code: int | None = None
        error: str | None = None
        started = utc_now()
        clock = time.perf_counter()
        try:
            secret = keyring_for(settings).decrypt(subscription.secret_enc, context=CTX_SECRET)
            # Checked again now (DNS may have changed since subscribing), then sent to
            # the address checked.
            target = await pinned(subscription.url, allow_private=settings.private_targets_allowed)
            headers = {
                **target.headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign_webhook(secret, msg_id, timestamp, body),
            }
            async with httpx.AsyncClient(
                timeout=settings.webhooks.timeout_seconds, follow_redirects=False
            ) as client:
                response = await client.post(
                    target.url, content=body, headers=headers, extensions=target.extensions
                )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"answered {status_code}: {response.text[:200]}"
        except KeyringError as exc:
            error = f"the secret does not decrypt: {exc}"
        except UnsafeTarget as exc:
            error = f"not sent: {exc.detail}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency_ms = int((time.perf_counter() - clock) * 1000)
        delivery.attempts += 1
        await repo.add(
            Attempt(
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                started_at=started,
                status_code=status_code,
                latency_ms=latency_ms,
                error=_clip(error) if error else None,
                replay=replay,
            )
        )
        delivery.last_status_code = status_code
        delivery.last_error = _clip(error) if error else None
        now = utc_now()
        if error is None:
            delivery.status = DeliveryStatus.DELIVERED.value
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif delivery.attempts - base >= settings.webhooks.max_attempts:
            delivery.status = DeliveryStatus.DEAD.value
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + backoff(
                delivery.attempts - base, settings.webhooks.backoff_base_seconds
            )
            await jobs_service.enqueue(
                session,
                DELIVER_JOB,
                {"delivery_id": str(delivery.id), "base": base, "replay": replay},
                run_at=delivery.next_attempt_at,
            )
        await session.flush()
        return delivery.status


def _detail(delivery: Delivery, attempts: Sequence[Attempt]) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription_id": delivery.subscription_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
        "payload": delivery.payload,
        "log": list(attempts),
    }


class ForwardingNotFound(NotFound):
    code = "forwarding_not_found"


#: What a forwarded statement leaves behind: the receiving LRS sets its own.
NOT_FORWARDED = ("stored", "authority")


class ForwardingService:
    """Statement forwarding (optional per institution): a copy of each stored statement
    (or only the recognised ones) PUT to another LRS under its own id, from the job
    table (``webhooks.forward``, one job per target and statement, retried with the
    job table's backoff). PUT with the id is idempotent: a retry after a timeout the
    remote already stored is answered 204 again; a different statement under that id
    (409) is a dead letter, never overwritten."""

    async def set(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        payload: ForwardingSet,
        *,
        keyring: Keyring,
        settings: Settings,
    ) -> ForwardingTarget:
        institution = await webhooks._institution(session, principal, key)
        await check_target(
            payload.endpoint, allow_private=settings.private_targets_allowed, field_name="endpoint"
        )
        repo = WebhookRepository.from_session(session)
        target = await repo.forwarding_of(institution.id)
        now = utc_now()
        if target is None:
            target = ForwardingTarget(
                institution_id=institution.id, institution_key=institution.key, created_at=now
            )
        target.endpoint = payload.endpoint.rstrip("/")
        target.username = payload.username
        target.password_enc = keyring.encrypt(payload.password, context=CTX_FORWARDING)
        target.only_recognised = payload.only_recognised
        target.enabled = payload.enabled
        target.updated_at = now
        await repo.add(target)
        await audit_service.record(
            session,
            actor=principal,
            action="webhooks.forwarding_set",
            object_type="forwarding_target",
            object_id=target.id,
            detail={"institution": institution.key, "only_recognised": target.only_recognised},
        )
        return target

    async def get(self, session: AsyncSession, principal: Principal, key: str) -> ForwardingTarget:
        institution = await webhooks._institution(session, principal, key)
        target = await WebhookRepository.from_session(session).forwarding_of(institution.id)
        if target is None:
            raise ForwardingNotFound(f"{key} forwards no statements / 未设置转发")
        return target

    async def delete(self, session: AsyncSession, principal: Principal, key: str) -> None:
        target = await self.get(session, principal, key)
        await WebhookRepository.from_session(session).delete_forwarding(target.id)
        await audit_service.record(
            session,
            actor=principal,
            action="webhooks.forwarding_delete",
            object_type="forwarding_target",
            object_id=target.id,
            detail={"institution": key},
        )

    async def on_events(self, session: AsyncSession, events: Sequence[Event]) -> None:
        """The listener: a forwarding job per stored (or recognised) statement of an
        institution that forwards; one query when none does."""
        targets = await WebhookRepository.from_session(session).enabled_forwarding()
        if not targets:
            return
        wanted = [
            e
            for e in events
            if e.statement_id is not None and e.type in (STATEMENT_STORED, STATEMENT_RECOGNISED)
        ]
        if not wanted:
            return
        senders: dict[uuid.UUID | None, uuid.UUID | None] = {
            e.statement_id: e.institution_id for e in wanted if e.institution_id
        }
        unknown = [e.statement_id for e in wanted if e.statement_id not in senders]
        if unknown:
            found = await get_statements_for_processing(
                session, [sid for sid in unknown if sid is not None]
            )
            senders.update({sid: stored.institution_id for sid, stored in found.items()})
        by_institution = {t.institution_id: t for t in targets}
        for event in wanted:
            sender = senders.get(event.statement_id)
            target = by_institution.get(sender) if sender is not None else None
            if target is None:
                continue
            mode = STATEMENT_RECOGNISED if target.only_recognised else STATEMENT_STORED
            if event.type != mode:
                continue
            await jobs_service.enqueue_unique(
                session,
                FORWARD_JOB,
                {"target_id": str(target.id), "statement_id": str(event.statement_id)},
                dedupe_key=f"{FORWARD_JOB}:{target.id}:{event.statement_id}",
            )

    async def forward(
        self,
        session: AsyncSession,
        settings: Settings,
        target_id: uuid.UUID,
        statement_id: uuid.UUID,
    ) -> str:
        """PUT one statement to the target LRS; raise to retry (the job table's backoff)."""
        target = await WebhookRepository.from_session(session).forwarding(target_id)
        if target is None or not target.enabled:
            return "skipped"
        found = await get_statements_for_processing(session, [statement_id])
        stored = found.get(statement_id)
        if stored is None:
            raise ForwardingRefused(f"no stored statement {statement_id}")
        body = {k: v for k, v in stored.body.items() if k not in NOT_FORWARDED}
        body["id"] = str(statement_id)
        try:
            password = keyring_for(settings).decrypt(target.password_enc, context=CTX_FORWARDING)
        except KeyringError as exc:
            raise ForwardingRefused(f"the LRS password does not decrypt: {exc}") from exc
        try:
            # Checked again now: DNS may answer differently than when it was set.
            remote = await pinned(
                f"{target.endpoint}/statements",
                allow_private=settings.private_targets_allowed,
                field_name="endpoint",
            )
        except UnsafeTarget as exc:
            raise ForwardingRefused(f"not forwarded: {exc.detail}") from exc
        async with httpx.AsyncClient(
            timeout=settings.webhooks.timeout_seconds, follow_redirects=False
        ) as client:
            response = await client.put(
                remote.url,
                params={"statementId": str(statement_id)},
                content=canonical_body(body),
                extensions=remote.extensions,
                headers={
                    **remote.headers,
                    "Content-Type": "application/json",
                    "X-Experience-API-Version": str(body.get("version") or "1.0.3"),
                    "User-Agent": USER_AGENT,
                },
                auth=(target.username, password),
            )
        if response.status_code in (200, 204):
            return "forwarded"
        if response.status_code == 409:
            raise ForwardingRefused(
                f"{target.endpoint} holds a different statement {statement_id} (409): "
                "not overwritten"
            )
        if response.status_code in (400, 401, 403):
            raise ForwardingRefused(
                f"{target.endpoint} refused statement {statement_id} "
                f"({response.status_code}): {response.text[:300]}"
            )
        raise RuntimeError(f"{target.endpoint} answered {response.status_code}")


class ForwardingRefused(Exception):
    """Retrying cannot help (the job becomes a dead letter, replayable by the operator)."""


webhooks = WebhookService()
forwarding = ForwardingService()
