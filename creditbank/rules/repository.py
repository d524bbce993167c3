"""Every query of the rules context: outcomes, the evaluation log, held statements, locks."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.counters.service import RULES_DECISIONS
from creditbank.counters.service import counters as counters_service
from creditbank.kit.repository import among, insert_all
from creditbank.rules.models import Evaluation, HeldStatement, Outcome, OutcomeStatus


def lock_key(kind: str, value: str) -> int:
    """A signed 64-bit advisory-lock key for ``kind:value``."""
    digest = hashlib.blake2b(f"rules:{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_EVALUATIONS = cast(Table, Evaluation.__table__)
_OUTCOMES = cast(Table, Outcome.__table__)
_HELD = cast(Table, HeldStatement.__table__)


def decision_label(kind: str, recognised: bool) -> str:
    """The ``rules.decisions`` counter label of one evaluation-log row."""
    if kind in {"held", "voided"}:
        return f"{kind}:{kind}"
    return f"{kind}:{'recognised' if recognised else 'not_recognised'}"


def _decisions(rows: Sequence[tuple[str, bool]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind, recognised in rows:
        label = decision_label(kind, recognised)
        out[label] = out.get(label, 0) + 1
    return out


class RulesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> RulesRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def lock(self, kind: str, value: str) -> None:
        """Serialise work on one learner / one actor for the rest of the transaction.

        PostgreSQL: a transaction-scoped advisory lock (so concurrent workers never
        credit the same learner from a stale record). SQLite: write transactions
        are serialised already (``BEGIN IMMEDIATE``).
        """
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(kind, value)}
            )

    async def lock_many(self, kind: str, values: Sequence[str]) -> None:
        """Batch :meth:`lock`: every key in one round trip, taken in key order (so two
        batches over overlapping learners wait for each other, never deadlock)."""
        if not values or self.session.get_bind().dialect.name != "postgresql":
            return
        keys = sorted({lock_key(kind, value) for value in values})
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": keys},
        )

    async def try_lock_many(self, kind: str, values: Sequence[str]) -> set[str]:
        """Take what is free of these locks without waiting; returns the values taken
        (all of them on SQLite, whose writers are serialised anyway)."""
        wanted = sorted(set(values))
        if not wanted or self.session.get_bind().dialect.name != "postgresql":
            return set(wanted)
        keys = {lock_key(kind, value): value for value in wanted}
        result = await self.session.execute(
            text(
                "SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k "
                "WHERE pg_try_advisory_xact_lock(k)"
            ),
            {"keys": sorted(keys)},
        )
        return {keys[int(k)] for k in result.scalars()}

    # -- outcomes -----------------------------------------------------------------------

    async def insert_rows(
        self, evaluations: Sequence[dict[str, Any]], outcomes: Sequence[dict[str, Any]]
    ) -> None:
        """One INSERT each of evaluation-log rows and outcomes (the batch path).

        Core INSERTs of the tables (every column given; :func:`insert_all`), not the
        ORM's bulk path: nothing of these rows is kept in the session, and the ORM's
        per-row work cost as much as the INSERT.
        """
        if evaluations:
            await insert_all(self.session, _EVALUATIONS, evaluations)
            await counters_service.add(
                self.session,
                RULES_DECISIONS,
                _decisions([(row["kind"], bool(row["recognised"])) for row in evaluations]),
            )
        if outcomes:
            await insert_all(self.session, _OUTCOMES, outcomes)

    async def counted_of_learners(
        self, learner_ids: Sequence[uuid.UUID], *, statuses: Sequence[str]
    ) -> dict[uuid.UUID, list[tuple[str, str, str, Decimal, datetime]]]:
        """What a record needs of these learners' outcomes (status, unit, category,
        credits, statement time), in :meth:`outcomes_of` order; no traces read."""
        out: dict[uuid.UUID, list[tuple[str, str, str, Decimal, datetime]]] = {
            learner: [] for learner in learner_ids
        }
        if not learner_ids:
            return out
        result = await self.session.execute(
            select(
                Outcome.learner_id,
                Outcome.status,
                Outcome.unit_code,
                Outcome.category,
                Outcome.credits,
                Outcome.statement_timestamp,
            )
            .where(
                among(Outcome.learner_id, learner_ids, dialect=self.dialect),
                Outcome.status.in_(list(statuses)),
            )
            .order_by(Outcome.recognised_at, Outcome.id)
        )
        for learner, status, unit_code, category, credits, at in result:
            out[learner].append((status, unit_code, category, credits, at))
        return out

    async def add(self, *rows: Outcome | Evaluation | HeldStatement) -> None:
        """Add and flush ``rows``; evaluation-log rows are counted (``rules.decisions``)."""
        self.session.add_all(rows)
        await self.session.flush()
        logged = [(r.kind, bool(r.recognised)) for r in rows if isinstance(r, Evaluation)]
        if logged:
            await counters_service.add(self.session, RULES_DECISIONS, _decisions(logged))

    async def outcome(self, outcome_id: uuid.UUID) -> Outcome | None:
        return await self.session.get(Outcome, outcome_id)

    async def outcomes_of(
        self, learner_id: uuid.UUID, *, statuses: Sequence[str] | None = None
    ) -> list[Outcome]:
        query = select(Outcome).where(Outcome.learner_id == learner_id)
        if statuses:
            query = query.where(Outcome.status.in_(list(statuses)))
        result = await self.session.execute(query.order_by(Outcome.recognised_at, Outcome.id))
        return list(result.scalars())

    async def active_outcomes_of_statement(self, statement_id: uuid.UUID) -> list[Outcome]:
        result = await self.session.execute(
            select(Outcome).where(
                Outcome.statement_id == statement_id,
                Outcome.status == OutcomeStatus.ACTIVE.value,
            )
        )
        return list(result.scalars())

    async def outcomes_of_statement(self, statement_id: uuid.UUID) -> list[Outcome]:
        result = await self.session.execute(
            select(Outcome)
            .where(Outcome.statement_id == statement_id)
            .order_by(Outcome.recognised_at)
        )
        return list(result.scalars())

    async def due_to_expire(self, now: datetime, limit: int) -> list[Outcome]:
        result = await self.session.execute(
            select(Outcome)
            .where(Outcome.status == OutcomeStatus.ACTIVE.value, Outcome.expires_at <= now)
            .order_by(Outcome.expires_at, Outcome.id)
            .limit(limit)
        )
        return list(result.scalars())

    async def learners_with_evaluations(self) -> list[uuid.UUID]:
        result = await self.session.execute(
            select(Evaluation.learner_id)
            .where(Evaluation.learner_id.is_not(None))
            .distinct()
            .order_by(Evaluation.learner_id)
        )
        return [row for row in result.scalars() if row is not None]

    # -- evaluations --------------------------------------------------------------------

    async def latest_evaluation(self, statement_id: uuid.UUID) -> Evaluation | None:
        result = await self.session.execute(
            select(Evaluation)
            .where(Evaluation.statement_id == statement_id)
            .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def evaluations_of(self, statement_id: uuid.UUID) -> list[Evaluation]:
        result = await self.session.execute(
            select(Evaluation)
            .where(Evaluation.statement_id == statement_id)
            .order_by(Evaluation.evaluated_at, Evaluation.id)
        )
        return list(result.scalars())

    async def evaluations_of_learner(self, learner_id: uuid.UUID) -> list[Evaluation]:
        result = await self.session.execute(
            select(Evaluation)
            .where(Evaluation.learner_id == learner_id)
            .order_by(Evaluation.evaluated_at, Evaluation.id)
        )
        return list(result.scalars())

    async def evaluation(self, evaluation_id: uuid.UUID) -> Evaluation | None:
        return await self.session.get(Evaluation, evaluation_id)

    async def has_evaluation(self, statement_id: uuid.UUID, kinds: Sequence[str]) -> bool:
        result = await self.session.execute(
            select(Evaluation.id)
            .where(Evaluation.statement_id == statement_id, Evaluation.kind.in_(list(kinds)))
            .limit(1)
        )
        return result.first() is not None

    async def evaluated(
        self, statement_ids: Sequence[uuid.UUID], kinds: Sequence[str]
    ) -> set[uuid.UUID]:
        """Batch :meth:`has_evaluation`: which of these statements have one of ``kinds``."""
        if not statement_ids:
            return set()
        result = await self.session.execute(
            select(Evaluation.statement_id)
            .where(
                among(Evaluation.statement_id, statement_ids, dialect=self.dialect),
                Evaluation.kind.in_(list(kinds)),
            )
            .distinct()
        )
        return set(result.scalars())

    async def statements_of_learner(self, learner_id: uuid.UUID) -> list[uuid.UUID]:
        """Statements evaluated for a learner (first evaluation order)."""
        result = await self.session.execute(
            select(Evaluation.statement_id, Evaluation.evaluated_at)
            .where(Evaluation.learner_id == learner_id, Evaluation.kind == "statement")
            .order_by(Evaluation.evaluated_at, Evaluation.id)
        )
        seen: dict[uuid.UUID, None] = {}
        for statement_id, _ in result.all():
            seen.setdefault(statement_id, None)
        return list(seen)

    # -- held statements ----------------------------------------------------------------

    async def held(self, statement_id: uuid.UUID) -> HeldStatement | None:
        return await self.session.get(HeldStatement, statement_id)

    async def held_among(self, statement_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Batch :meth:`held`: which of these statements are held."""
        if not statement_ids:
            return set()
        result = await self.session.execute(
            select(HeldStatement.statement_id).where(
                among(HeldStatement.statement_id, statement_ids, dialect=self.dialect)
            )
        )
        return set(result.scalars())

    async def insert_held(self, rows: Sequence[dict[str, Any]]) -> None:
        """One INSERT of held statements (every column given; :func:`insert_all`)."""
        await insert_all(self.session, _HELD, rows)

    async def held_for(self, ifi: str) -> list[HeldStatement]:
        result = await self.session.execute(
            select(HeldStatement)
            .where(HeldStatement.actor_ifi == ifi)
            .order_by(HeldStatement.held_at, HeldStatement.statement_id)
        )
        return list(result.scalars())

    async def release(self, statement_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(HeldStatement).where(HeldStatement.statement_id == statement_id)
        )

    async def release_many(self, statement_ids: Sequence[uuid.UUID]) -> None:
        if statement_ids:
            await self.session.execute(
                delete(HeldStatement).where(
                    among(HeldStatement.statement_id, statement_ids, dialect=self.dialect)
                )
            )
