"""Job bodies of the webhooks context."""

from __future__ import annotations

import uuid
from typing import Any

from creditbank.jobs.context import PermanentJobError, TaskContext
from creditbank.webhooks.service import ForwardingRefused
from creditbank.webhooks.service import forwarding as forwarding_service
from creditbank.webhooks.service import webhooks as webhooks_service


async def deliver(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``webhooks.deliver`` {delivery_id, base, replay}: one attempt; a failure is logged
    and the next attempt scheduled by the service (not raised: the log must commit)."""
    try:
        delivery_id = uuid.UUID(str(payload["delivery_id"]))
    except (KeyError, ValueError) as exc:
        raise PermanentJobError(f"payload needs a UUID 'delivery_id': {payload!r}") from exc
    await webhooks_service.deliver(
        ctx.session,
        ctx.settings,
        delivery_id,
        base=int(payload.get("base", 0)),
        replay=bool(payload.get("replay", False)),
    )


async def forward(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``webhooks.forward`` {target_id, statement_id}: PUT it to the institution's other
    LRS; an error raises and the job table retries with backoff."""
    try:
        target_id = uuid.UUID(str(payload["target_id"]))
        statement_id = uuid.UUID(str(payload["statement_id"]))
    except (KeyError, ValueError) as exc:
        raise PermanentJobError(f"payload needs target_id and statement_id: {payload!r}") from exc
    try:
        await forwarding_service.forward(ctx.session, ctx.settings, target_id, statement_id)
    except ForwardingRefused as exc:
        raise PermanentJobError(str(exc)) from exc
