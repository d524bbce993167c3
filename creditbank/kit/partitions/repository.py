"""The DDL of monthly partitions on PostgreSQL (see :mod:`creditbank.kit.partitions`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.kit.partitions import (
    MONTHS_AHEAD,
    MonthPartition,
    add_months,
    default_partition,
    month_start,
    partition_name,
)


class PartitionRepository:
    """The DDL of monthly partitions (PostgreSQL only). Table and column names come from
    the code's constants, never from input; they are quoted anyway."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PartitionRepository:
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _q(self, name: str) -> str:
        return self.session.get_bind().dialect.identifier_preparer.quote(name)

    async def months(self, parent: str) -> list[MonthPartition]:
        """The month partitions of ``parent``, oldest first."""
        result = await self.session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "JOIN pg_namespace n ON n.oid = p.relnamespace "
                "WHERE p.relname = :parent AND n.nspname = current_schema()"
            ),
            {"parent": parent},
        )
        pattern = re.compile(re.escape(parent) + r"_(\d{4})_(\d{2})$")
        found: list[MonthPartition] = []
        for (name,) in result.all():
            match = pattern.match(str(name))
            if match:
                start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
                found.append(MonthPartition(str(name), start))
        return sorted(found, key=lambda p: p.start)

    async def ensure_months(
        self, parent: str, column: str, *, now: datetime, ahead: int = MONTHS_AHEAD
    ) -> list[str]:
        """Create the partitions of ``now``'s month and ``ahead`` months after it that do
        not exist yet; returns the names created."""
        if self.dialect != "postgresql":
            return []
        existing = {p.name for p in await self.months(parent)}
        created: list[str] = []
        first = month_start(now)
        for offset in range(ahead + 1):
            start = add_months(first, offset)
            name = partition_name(parent, start)
            if name not in existing:
                await self.create_month(parent, column, start)
                created.append(name)
        return created

    async def ensure_range(
        self, parent: str, column: str, *, start: datetime, end: datetime
    ) -> list[str]:
        """Create the partitions of every month from ``start``'s to ``end``'s and the
        months ahead of that (a bulk load of past rows)."""
        first, last = month_start(start), month_start(end)
        months = (last.year - first.year) * 12 + (last.month - first.month)
        return await self.ensure_months(
            parent, column, now=first, ahead=max(months, 0) + MONTHS_AHEAD
        )

    async def create_month(self, parent: str, column: str, start: datetime) -> None:
        """Create the partition of the month starting at ``start``; rows the default
        partition holds for that month are moved into it first."""
        end = add_months(start, 1)
        name = partition_name(parent, start)
        default = default_partition(parent)
        bounds = {"start": start, "end": end}
        in_range = f"{self._q(column)} >= :start AND {self._q(column)} < :end"
        stranded = (
            await self.session.execute(
                text(f"SELECT EXISTS (SELECT 1 FROM {self._q(default)} WHERE {in_range})"),  # noqa: S608
                bounds,
            )
        ).scalar_one()
        # Bounds are rendered as literals: DDL takes no bind parameters.
        values = f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        if not stranded:
            await self.session.execute(
                text(f"CREATE TABLE {self._q(name)} PARTITION OF {self._q(parent)} {values}")
            )
            return
        # The default partition holds rows of this month (it had no partition when they
        # came): move them, then attach (attaching builds the partition's indexes).
        await self.session.execute(
            text(
                f"CREATE TABLE {self._q(name)} "
                f"(LIKE {self._q(parent)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
        )
        await self.session.execute(
            text(
                f"WITH moved AS (DELETE FROM {self._q(default)} WHERE {in_range} RETURNING *) "  # noqa: S608
                f"INSERT INTO {self._q(name)} SELECT * FROM moved"
            ),
            bounds,
        )
        await self.session.execute(
            text(f"ALTER TABLE {self._q(parent)} ATTACH PARTITION {self._q(name)} {values}")
        )

    async def drop_months_before(self, parent: str, cutoff: datetime) -> list[str]:
        """Detach and drop every month partition that ends at or before ``cutoff``."""
        if self.dialect != "postgresql":
            return []
        dropped: list[str] = []
        for partition in await self.months(parent):
            if partition.end <= cutoff:
                await self.session.execute(
                    text(
                        f"ALTER TABLE {self._q(parent)} DETACH PARTITION {self._q(partition.name)}"
                    )
                )
                await self.session.execute(text(f"DROP TABLE {self._q(partition.name)}"))
                dropped.append(partition.name)
        return dropped

    async def default_rows(self, parent: str) -> int:
        """How many rows the default partition holds (normally none)."""
        result = await self.session.execute(
            text(f"SELECT count(*) FROM {self._q(default_partition(parent))}")  # noqa: S608
        )
        return int(result.scalar_one())
