"""Domain events, emitted in the transaction of the decision that causes them.

A context that decides something other contexts may want to hear of (a statement
recognised or held, an outcome revoked, a conversion decided) calls :func:`emit`
with the decision's session; the handlers registered at start-up
(``creditbank.bootstrap.register_event_handlers``) write what they need in that same
transaction (the webhooks context: deliveries and their jobs), so a rollback leaves
nothing behind. The emitter imports no listener: contexts stay independent.

Handlers must be cheap when nobody listens (one query at most): they run on the
statement-processing hot path.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

STATEMENT_RECOGNISED = "statement.recognised"
STATEMENT_HELD = "statement.held"
OUTCOME_REVOKED = "outcome.revoked"
CONVERSION_DECIDED = "conversion.decided"
#: Every event type an institution can subscribe to.
EVENT_TYPES = (STATEMENT_RECOGNISED, STATEMENT_HELD, OUTCOME_REVOKED, CONVERSION_DECIDED)
#: Internal: the worker took up a stored statement (any, voiding ones too), for forwarding.
STATEMENT_STORED = "statement.stored"


@dataclass(frozen=True)
class Event:
    """One decision. ``id`` is deterministic (emitting the same decision twice is one
    event); the institution concerned is named by key or id, or, for statement
    events, found from ``statement_id`` by the listener if it cares."""

    type: str
    id: str
    data: dict[str, Any] = field(default_factory=dict)
    institution_key: str | None = None
    institution_id: uuid.UUID | None = None
    statement_id: uuid.UUID | None = None


EventHandler = Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]

_handlers: dict[str, EventHandler] = {}


def register_event_handler(name: str, handler: EventHandler) -> None:
    """Add (or replace, by ``name``) a listener; calling it twice is harmless."""
    _handlers[name] = handler


async def emit(session: AsyncSession, events: Sequence[Event]) -> None:
    """Hand ``events`` to every listener, in the caller's transaction."""
    if not events:
        return
    for handler in list(_handlers.values()):
        await handler(session, events)
