"""Every query of the ledger context."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from creditbank.counters.service import LEDGER_POSTINGS
from creditbank.counters.service import counters as counters_service
from creditbank.kit.repository import among, insert_all, update_all
from creditbank.kit.time import utc_now
from creditbank.ledger.models import (
    GENESIS_HASH,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerPosition,
)

_HEADS = cast(Table, LedgerHead.__table__)
_ENTRIES = cast(Table, LedgerEntry.__table__)
_POSITIONS = cast(Table, LedgerPosition.__table__)


class HeadFigures(NamedTuple):
    """What the next posting needs of a chain's last entry."""

    learner_id: uuid.UUID
    available: Decimal
    converted: Decimal
    expired: Decimal
    breakdown: dict[str, Any]
    posted_at: datetime


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> LedgerRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # -- heads ---------------------------------------------------------------------------

    async def lock_head(self, learner_id: uuid.UUID) -> LedgerHead:
        """The learner's chain head, created if missing and row-locked (PostgreSQL)."""
        values = {"learner_id": learner_id, "seq": 0, "hash": GENESIS_HASH, "updated_at": utc_now()}
        if self.dialect == "postgresql":
            await self.session.execute(
                pg_insert(LedgerHead).values(values).on_conflict_do_nothing()
            )
        else:
            await self.session.execute(
                sqlite_insert(LedgerHead).values(values).on_conflict_do_nothing()
            )
        query = select(LedgerHead).where(LedgerHead.learner_id == learner_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return result.scalar_one()

    async def lock_heads(self, learner_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LedgerHead]:
        """Batch :meth:`lock_head`: the heads of many learners, created if missing and
        row-locked in learner order (so two batches never deadlock on each other)."""
        wanted = sorted(set(learner_ids))
        if not wanted:
            return {}
        now = utc_now()
        rows = [
            {"learner_id": learner, "seq": 0, "hash": GENESIS_HASH, "updated_at": now}
            for learner in wanted
        ]
        # One statement of a fixed text for the batch (insert_all), not a multi-VALUES
        # statement compiled anew for each batch size.
        await insert_all(self.session, _HEADS, rows, on_conflict_do_nothing=True)
        query = (
            select(LedgerHead)
            .where(among(LedgerHead.learner_id, wanted, dialect=self.dialect))
            .order_by(LedgerHead.learner_id)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return {head.learner_id: head for head in result.scalars()}

    async def advance_heads(
        self, heads: Sequence[LedgerHead], *, tips: Mapping[uuid.UUID, tuple[int, str, datetime]]
    ) -> None:
        """Move these (locked) heads to their chains' new last entries: ``tips`` gives
        each learner's ``(seq, hash, updated_at)``; heads not in it stay.

        PostgreSQL: one ``UPDATE ... FROM unnest(...)`` for the batch, the objects given
        the values as loaded (nothing left for the flush); SQLite: the objects are
        changed and the session's flush writes them, as for one posting.
        """
        moved = [head for head in heads if head.learner_id in tips]
        if self.dialect != "postgresql":
            for head in moved:
                head.seq, head.hash, head.updated_at = tips[head.learner_id]
            return
        rows = []
        for head in moved:
            seq, hash_, updated_at = tips[head.learner_id]
            rows.append(
                {"learner_id": head.learner_id, "seq": seq, "hash": hash_, "updated_at": updated_at}
            )
        await update_all(self.session, _HEADS, rows, key="learner_id")
        for row, head in zip(rows, moved, strict=True):
            for name in ("seq", "hash", "updated_at"):
                set_committed_value(head, name, row[name])

    async def entries_at_heads(self, heads: Sequence[LedgerHead]) -> dict[uuid.UUID, HeadFigures]:
        """The figures of the last entry of each of these (locked) heads, in one query."""
        wanted = [head.learner_id for head in heads if head.seq > 0]
        if not wanted:
            return {}
        result = await self.session.execute(
            select(
                LedgerEntry.learner_id,
                LedgerEntry.available,
                LedgerEntry.converted,
                LedgerEntry.expired,
                LedgerEntry.breakdown,
                LedgerEntry.posted_at,
            )
            .join(
                LedgerHead,
                (LedgerHead.learner_id == LedgerEntry.learner_id)
                & (LedgerHead.seq == LedgerEntry.seq),
            )
            .where(among(LedgerHead.learner_id, wanted, dialect=self.dialect))
        )
        return {row[0]: HeadFigures(*row) for row in result}

    async def insert_rows(
        self, entries: Sequence[dict[str, Any]], positions: Sequence[dict[str, Any]]
    ) -> None:
        """One INSERT each of new entries and positions (the batch posting path): Core
        INSERTs of the tables (every column given; :func:`insert_all`), nothing kept in
        the session."""
        if entries:
            await insert_all(self.session, _ENTRIES, entries)
            await self.count_postings([row["kind"] for row in entries])
        await insert_all(self.session, _POSITIONS, positions)

    async def count_postings(self, kinds: Sequence[str]) -> None:
        """Count new entries by kind (``ledger.postings``), in the posting's transaction."""
        counts: dict[str, int] = {}
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
        await counters_service.add(self.session, LEDGER_POSTINGS, counts)

    async def head(self, learner_id: uuid.UUID) -> LedgerHead | None:
        result = await self.session.execute(
            select(LedgerHead).where(LedgerHead.learner_id == learner_id)
        )
        return result.scalar_one_or_none()

    async def all_heads(self) -> list[LedgerHead]:
        result = await self.session.execute(
            select(LedgerHead).where(LedgerHead.seq > 0).order_by(LedgerHead.learner_id)
        )
        return list(result.scalars())

    async def learner_ids(self) -> list[uuid.UUID]:
        result = await self.session.execute(
            select(LedgerEntry.learner_id).distinct().order_by(LedgerEntry.learner_id)
        )
        return list(result.scalars())

    # -- entries -------------------------------------------------------------------------

    async def by_idempotency_key(self, key: str) -> LedgerEntry | None:
        result = await self.session.execute(
            select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
        )
        return result.scalar_one_or_none()

    async def by_idempotency_keys(self, keys: Sequence[str]) -> dict[str, LedgerEntry]:
        if not keys:
            return {}
        result = await self.session.execute(
            select(LedgerEntry).where(
                among(LedgerEntry.idempotency_key, keys, dialect=self.dialect)
            )
        )
        return {entry.idempotency_key: entry for entry in result.scalars()}

    async def get(self, entry_id: uuid.UUID) -> LedgerEntry | None:
        return await self.session.get(LedgerEntry, entry_id)

    async def at_seq(self, learner_id: uuid.UUID, seq: int) -> LedgerEntry | None:
        result = await self.session.execute(
            select(LedgerEntry).where(LedgerEntry.learner_id == learner_id, LedgerEntry.seq == seq)
        )
        return result.scalar_one_or_none()

    async def latest(
        self, learner_id: uuid.UUID, *, as_of: datetime | None = None
    ) -> LedgerEntry | None:
        query = select(LedgerEntry).where(LedgerEntry.learner_id == learner_id)
        if as_of is None:
            query = query.order_by(LedgerEntry.seq.desc())
        else:
            # ``posted_at`` never decreases along a learner's ``seq`` (every posting
            # stamps max(now, previous)), so the newest by time is the newest by seq:
            # one probe of ``(learner_id, posted_at, seq)``, where ordering by seq
            # alone walked back through every entry after ``as_of``.
            query = query.where(LedgerEntry.posted_at <= as_of).order_by(
                LedgerEntry.posted_at.desc(), LedgerEntry.seq.desc()
            )
        result = await self.session.execute(query.limit(1))
        return result.scalar_one_or_none()

    async def entries(
        self,
        learner_id: uuid.UUID,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        kind: str | None = None,
    ) -> list[LedgerEntry]:
        query = select(LedgerEntry).where(
            LedgerEntry.learner_id == learner_id, LedgerEntry.seq > after_seq
        )
        if kind is not None:
            query = query.where(LedgerEntry.kind == kind)
        query = query.order_by(LedgerEntry.seq)
        if limit is not None:
            query = query.limit(limit)
        result = await self.session.execute(query)
        return list(result.scalars())

    async def entries_for_outcome(self, outcome_id: uuid.UUID) -> list[LedgerEntry]:
        result = await self.session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.outcome_id == outcome_id)
            .order_by(LedgerEntry.seq)
        )
        return list(result.scalars())

    async def count_entries(self) -> int:
        result = await self.session.execute(select(func.count()).select_from(LedgerEntry))
        return int(result.scalar_one())

    # -- positions -----------------------------------------------------------------------

    async def position(self, outcome_id: uuid.UUID) -> LedgerPosition | None:
        result = await self.session.execute(
            select(LedgerPosition)
            .where(LedgerPosition.outcome_id == outcome_id)
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def positions_of_outcomes(self, outcome_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these outcomes have a position already."""
        if not outcome_ids:
            return set()
        result = await self.session.execute(
            select(LedgerPosition.outcome_id).where(
                among(LedgerPosition.outcome_id, outcome_ids, dialect=self.dialect)
            )
        )
        return set(result.scalars())

    async def positions(
        self, learner_id: uuid.UUID, outcome_ids: Sequence[uuid.UUID] | None = None
    ) -> list[LedgerPosition]:
        query = select(LedgerPosition).where(LedgerPosition.learner_id == learner_id)
        if outcome_ids is not None:
            query = query.where(LedgerPosition.outcome_id.in_(list(outcome_ids)))
        result = await self.session.execute(
            query.order_by(LedgerPosition.unit_code).execution_options(populate_existing=True)
        )
        return list(result.scalars())

    # -- checkpoints ---------------------------------------------------------------------

    async def checkpoints(
        self, *, limit: int, before_id: int | None = None
    ) -> list[LedgerCheckpoint]:
        query = select(LedgerCheckpoint)
        if before_id is not None:
            query = query.where(LedgerCheckpoint.id < before_id)
        result = await self.session.execute(query.order_by(LedgerCheckpoint.id.desc()).limit(limit))
        return list(result.scalars())

    async def checkpoint(self, checkpoint_id: int) -> LedgerCheckpoint | None:
        return await self.session.get(LedgerCheckpoint, checkpoint_id)

    async def latest_checkpoint(self) -> LedgerCheckpoint | None:
        result = await self.session.execute(
            select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1)
        )
        return result.scalar_one_or_none()
