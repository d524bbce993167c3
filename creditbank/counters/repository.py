"""Every query of the counter deltas."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.counters.models import Count


class CountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> CountRepository:
        return cls(session)

    async def add(self, rows: Mapping[tuple[str, str], int]) -> None:
        """One multi-row INSERT of deltas (never an UPDATE: no row is contended)."""
        values = [{"name": name, "label": label, "n": n} for (name, label), n in rows.items() if n]
        if values:
            await self.session.execute(insert(Count), values)

    async def totals(self) -> dict[tuple[str, str], int]:
        result = await self.session.execute(
            select(Count.name, Count.label, func.sum(Count.n)).group_by(Count.name, Count.label)
        )
        return {(name, label): int(total) for name, label, total in result}

    async def fold(self) -> int:
        """Replace every delta this transaction sees by one row per counter.

        ``DELETE ... RETURNING`` sums exactly the rows it removed: a delta committed
        meanwhile by another transaction is not among them and stays as it is.
        Returns how many rows were folded.
        """
        result = await self.session.execute(
            delete(Count).returning(Count.name, Count.label, Count.n)
        )
        folded: dict[tuple[str, str], int] = {}
        rows = 0
        for name, label, n in result:
            folded[(name, label)] = folded.get((name, label), 0) + int(n)
            rows += 1
        await self.add(folded)
        return rows
