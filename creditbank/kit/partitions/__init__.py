"""Monthly range partitions on PostgreSQL: create them ahead, drop old ones whole.

A table partitioned ``BY RANGE (<timestamp column>)`` has one partition per calendar
month (UTC), named ``<parent>_YYYY_MM``, and a ``<parent>_default`` partition as the
safety net: a row whose month has no partition yet lands there instead of failing.
:meth:`repository.PartitionRepository.ensure_months` creates the current month and the next ones
ahead (the ``jobs.ensure_partitions`` periodic job runs it daily) and moves any rows the
default partition holds for a month it creates into that month's partition, so the
default partition is normally empty. :meth:`repository.PartitionRepository.drop_months_before`
detaches and drops whole months: retention without DELETE (no dead tuples, no vacuum).

SQLite keeps plain tables: nothing here runs there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Months ahead of the current one that always have a partition.
MONTHS_AHEAD = 2
#: The PostgreSQL tables partitioned by month: (range-partitioned table, its timestamp
#: column). The ``jobs.ensure_partitions`` job keeps their months created ahead.
MONTHLY_PARTITIONED: tuple[tuple[str, str], ...] = (
    ("jobs_done", "finished_at"),  # the done partition of ``jobs`` (creditbank/jobs)
    ("lrs_statements", "stored"),  # creditbank/lrs
)


def month_start(at: datetime) -> datetime:
    """The first instant (UTC) of the month ``at`` falls in."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + (start.month - 1) + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(parent: str, start: datetime) -> str:
    return f"{parent}_{start.year:04d}_{start.month:02d}"


def default_partition(parent: str) -> str:
    return f"{parent}_default"


@dataclass(frozen=True)
class MonthPartition:
    name: str
    start: datetime

    @property
    def end(self) -> datetime:
        return add_months(self.start, 1)


def partition_tables(names: Sequence[str]) -> re.Pattern[str]:
    """A pattern matching the partitions of the partitioned tables ``names`` (schema
    comparisons skip them: the models declare the parents only)."""
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rf"^({alternatives})_(default|open|done|\d{{4}}_\d{{2}})$")


#: Tables partitioned on PostgreSQL (the models declare them as plain tables, which is
#: what SQLite gets): their partitions carry the keys and indexes.
PARTITIONED_TABLES: tuple[str, ...] = ("jobs", "jobs_done", "lrs_statements")


def schema_comparison_filter(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic ``include_object`` for comparing models with a migrated database: on
    PostgreSQL the partitions, and the keys and indexes a partitioned table's partitions
    hold instead of the table, are not the models' business."""
    partitions = partition_tables(PARTITIONED_TABLES)

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if dialect != "postgresql":
            return True
        if type_ == "table":
            return not (name and partitions.match(name))
        if type_ in ("index", "unique_constraint", "foreign_key_constraint"):
            table = getattr(obj, "table", None)
            table_name = getattr(table, "name", None)
            return not (
                table_name in PARTITIONED_TABLES or (table_name and partitions.match(table_name))
            )
        return True

    return include
