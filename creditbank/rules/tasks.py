"""Job bodies of the rules context; each idempotent (re-running never credits twice)."""

from __future__ import annotations

import uuid
from typing import Any

from creditbank.jobs.context import PermanentJobError, TaskContext
from creditbank.kit import events
from creditbank.rules.service import StatementMissing
from creditbank.rules.service import rules as rules_service


async def _stored(ctx: TaskContext, statement_ids: list[uuid.UUID]) -> None:
    """``statement.stored`` for each statement taken up (listeners: forwarding)."""
    await events.emit(
        ctx.session,
        [
            events.Event(
                type=events.STATEMENT_STORED,
                id=f"{events.STATEMENT_STORED}:{sid}",
                statement_id=sid,
                data={"statement_id": str(sid)},
            )
            for sid in statement_ids
        ],
    )


def _uuid(payload: dict[str, Any], key: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(payload[key]))
    except (KeyError, ValueError) as exc:
        raise PermanentJobError(f"payload needs a UUID {key!r}: {payload!r}") from exc


async def statement_stored(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``lrs.statement_stored`` {statement_id}: recognise and accumulate (or hold)."""
    statement_id = _uuid(payload, "statement_id")
    try:
        await rules_service.process_statement(
            ctx.session,
            statement_id,
            actor=ctx.settings.rules.actor,
            standards_set=ctx.settings.rules.standards_set,
            now=ctx.now,
        )
    except StatementMissing as exc:
        raise PermanentJobError(str(exc)) from exc
    await _stored(ctx, [statement_id])


async def statements_stored(ctx: TaskContext, payloads: list[dict[str, Any]]) -> list[int]:
    """Batch body of ``lrs.statement_stored`` / ``rules.reprocess_statement``: many
    statements in one transaction (the worker falls back to one by one on any error).

    Returns the positions of the payloads deferred because another worker holds
    their learner (only when ``ctx.may_defer``); the worker runs those next.
    """
    ids = [_uuid(payload, "statement_id") for payload in payloads]
    results = await rules_service.process_statements(
        ctx.session,
        ids,
        actor=ctx.settings.rules.actor,
        standards_set=ctx.settings.rules.standards_set,
        now=ctx.now,
        defer_busy=ctx.may_defer,
    )
    deferred = [index for index, result in enumerate(results) if result.status == "deferred"]
    await _stored(ctx, [sid for index, sid in enumerate(ids) if index not in deferred])
    return deferred


async def reprocess_statement(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``rules.reprocess_statement`` {statement_id}: as ``statement_stored`` (operator use)."""
    await statement_stored(ctx, payload)


async def statement_voided(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``lrs.statement_voided``: revoke the voided statement's outcomes (ledger reversal).

    Payload: ``statement_id`` is the voided target and ``voiding_statement_id`` the
    voiding statement (the LRS's shape); ``voided_statement_id`` is accepted too.
    """
    if "voided_statement_id" in payload:
        target = _uuid(payload, "voided_statement_id")
        voiding = payload.get("statement_id")
    else:
        target = _uuid(payload, "statement_id")
        voiding = payload.get("voiding_statement_id")
    await rules_service.statement_voided(
        ctx.session,
        target,
        voiding_statement_id=uuid.UUID(str(voiding)) if voiding else None,
        actor=ctx.settings.rules.actor,
        standards_set=ctx.settings.rules.standards_set,
        now=ctx.now,
    )


async def link_created(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``identity.link_created`` {learner_id, ifi}: process the statements held for it."""
    ifi = payload.get("ifi")
    if not isinstance(ifi, str) or not ifi:
        raise PermanentJobError(f"payload needs an 'ifi': {payload!r}")
    await rules_service.release_held(
        ctx.session,
        ifi,
        actor=ctx.settings.rules.actor,
        standards_set=ctx.settings.rules.standards_set,
        now=ctx.now,
    )


async def expiry_sweep(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """``rules.expiry_sweep`` (hourly): expire outcomes past their validity."""
    await rules_service.expiry_sweep(
        ctx.session,
        actor=ctx.settings.rules.actor,
        now=ctx.now,
        limit=ctx.settings.rules.expiry_batch,
    )
