"""In-process domain events, so one context can react to another's change without
importing it: the context where something happened ``emit``\\s it inside its own
transaction, and the contexts that care ``subscribe`` at start-up
(``creditbank.bootstrap.register_event_handlers``, never as an import side effect).

Handlers run in the emitter's session, before it commits: what they write commits or
rolls back with the change that caused it (a revoked outcome and the transcripts it
revokes are one transaction). An event is emitted only after the entry point wired
the handlers; emitting before raises, since a silently unheard "outcome revoked"
would leave a transcript valid that must not be.

Events
    ``outcomes.revoked`` (rules): ``outcome_ids`` (list of UUIDs), ``reason``,
    ``actor``, ``now`` — outcomes revoked because their statement was voided (their
    ledger deposits are reversed in the same transaction).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

OUTCOMES_REVOKED = "outcomes.revoked"
EVENTS = frozenset({OUTCOMES_REVOKED})

#: async fn(session, **payload)
Handler = Callable[..., Awaitable[Any]]
_HANDLERS: dict[str, dict[str, Handler]] = {}
_wired = False


def subscribe(event: str, name: str, handler: Handler) -> None:
    """Run ``handler(session, **payload)`` on every ``event`` (``name`` replaces an earlier
    subscription of the same name, so wiring twice is harmless)."""
    global _wired
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    _HANDLERS.setdefault(event, {})[name] = handler
    _wired = True


def subscribers(event: str) -> dict[str, Handler]:
    return dict(_HANDLERS.get(event, {}))


async def emit(event: str, session: AsyncSession, **payload: Any) -> None:
    """Run the subscribers of ``event`` in ``session``'s transaction, in subscription order."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if not _wired:
        raise RuntimeError(
            "event handlers are not registered: the entry point must call "
            "creditbank.bootstrap.register_event_handlers()"
        )
    for handler in list(_HANDLERS.get(event, {}).values()):
        await handler(session, **payload)
