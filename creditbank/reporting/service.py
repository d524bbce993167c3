"""The operator's dashboard (数字驾驶舱): aggregates read with the read session only.

The three aggregates over the large tables (credits recognised, learners active,
statements per day) read the rollups the ``reporting.rollup`` job keeps
(``reporting/models.py``) for everything dated before its watermark, plus a live
query of the rows dated from the watermark on; the answer is the live query's over
the whole window, exactly (``tests/reporting/test_reporting_rollups.py``). Without
a watermark (the job never ran) they are the live queries.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.db import ReadSession
from creditbank.identity.authz import Resource, authorize
from creditbank.identity.principal import Principal
from creditbank.kit.time import utc_now
from creditbank.reporting.repository import (
    Count,
    Decisions,
    NotRecognised,
    Periodic,
    ReportingRepository,
)

#: Administrative division codes (GB/T 2260) the demo and Hubei deployments use.
REGIONS: dict[str, tuple[str, str]] = {
    "420000": ("湖北省", "Hubei Province"),
    "420100": ("武汉市", "Wuhan"),
    "420200": ("黄石市", "Huangshi"),
    "420300": ("十堰市", "Shiyan"),
    "420302": ("茅箭区", "Maojian District"),
    "420303": ("张湾区", "Zhangwan District"),
    "420304": ("郧阳区", "Yunyang District"),
    "420322": ("郧西县", "Yunxi County"),
    "420323": ("竹山县", "Zhushan County"),
    "420324": ("竹溪县", "Zhuxi County"),
    "420325": ("房县", "Fang County"),
    "420381": ("丹江口市", "Danjiangkou"),
    "421100": ("黄冈市", "Huanggang"),
}

#: How long after a row's time the job waits before folding it in: every writer stamps
#: its rows with the clock inside its transaction, and commits well within this.
SETTLE = timedelta(minutes=5)


@dataclass(frozen=True)
class Total:
    """Credits and a count for one key (a month, a type or a region)."""

    key: str
    credits: Decimal
    count: int


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    since_month: datetime
    since_day: datetime
    recognised: list[Periodic]
    converted: list[Periodic]
    decisions: list[Decisions]
    learners_active: list[Count]
    statements_per_day: list[Count]

    @property
    def approval_rate(self) -> Decimal | None:
        """Approved share of the decided applications, in percent (None: none decided)."""
        decided = sum(d.decided for d in self.decisions)
        if not decided:
            return None
        approved = sum(d.approved for d in self.decisions)
        return (Decimal(approved) * 100 / Decimal(decided)).quantize(Decimal("0.1"))

    @property
    def turnaround_hours(self) -> Decimal | None:
        """Mean time from submission to decision, in hours, over the decided applications."""
        weighted = [
            (d.turnaround_seconds, d.decided)
            for d in self.decisions
            if d.turnaround_seconds is not None
        ]
        count = sum(n for _, n in weighted)
        if not count:
            return None
        seconds = sum(s * n for s, n in weighted) / count
        return (Decimal(str(seconds)) / 3600).quantize(Decimal("0.1"))


def totals(rows: Iterable[Periodic], by: str) -> list[Total]:
    """Sum rows by ``period``, ``institution_type`` or ``region_code`` (missing: ``""``)."""
    credits: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        key = getattr(row, by) or ""
        credits[key] += row.credits
        counts[key] += row.count
    return [Total(key=k, credits=credits[k], count=counts[k]) for k in sorted(credits)]


def region_name(code: str | None, lang: str) -> str:
    if not code:
        return "未填写" if lang != "en" else "Not set"
    names = REGIONS.get(code)
    if names is None:
        return code
    return names[1] if lang == "en" else names[0]


@dataclass(frozen=True)
class Ingest:
    """An institution's ingest: statements per day, how many were recognised, and the
    statements held or refused with the reason."""

    since: datetime
    statements_per_day: list[Count]
    evaluated: int
    recognised: int
    not_recognised: list[NotRecognised]

    @property
    def recognised_share(self) -> Decimal | None:
        if not self.evaluated:
            return None
        return (Decimal(self.recognised) * 100 / Decimal(self.evaluated)).quantize(Decimal("0.1"))


def _day_start(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(when: datetime) -> datetime:
    return _day_start(when).replace(day=1)


def _sorted_periodic(
    rows: dict[tuple[str, str, str | None], Periodic], nulls_first: bool
) -> list[Periodic]:
    """In the live query's order: period, type, region, the missing region where the
    database puts NULLs (first on SQLite, last on PostgreSQL)."""

    def key(k: tuple[str, str, str | None]) -> tuple[str, str, int, str]:
        period, kind, region = k
        if region is None:
            return period, kind, 0 if nulls_first else 1, ""
        return period, kind, 1 if nulls_first else 0, region

    return [rows[k] for k in sorted(rows, key=key)]


async def recognised(session: AsyncSession, since: datetime) -> list[Periodic]:
    """Credits recognised since ``since`` (a month's start), by month, type and region:
    the rollup before its watermark, the live rows from it on."""
    repo = ReportingRepository.from_session(session)
    if since != _month_start(since):
        return await repo.recognised(since)
    found, through, rolled = await repo.recognised_rollup(since.astimezone(UTC).strftime("%Y-%m"))
    if not found or through is None:
        return await repo.recognised(since)
    merged: dict[tuple[str, str, str | None], Periodic] = {}
    for row in rolled + await repo.recognised(max(since, through)):
        key = (row.period, row.institution_type, row.region_code)
        seen = merged.get(key)
        merged[key] = (
            row
            if seen is None
            else Periodic(*key, credits=seen.credits + row.credits, count=seen.count + row.count)
        )
    return _sorted_periodic(merged, nulls_first=not repo.postgres)


def _add(rolled: list[Count], live: list[Count]) -> list[Count]:
    counts: dict[str, int] = defaultdict(int)
    for c in rolled + live:
        counts[c.period] += c.count
    return [Count(period=p, count=counts[p]) for p in sorted(counts)]


async def learners_active(session: AsyncSession, since: datetime) -> list[Count]:
    """Distinct learners with a ledger entry per month since ``since`` (a month's start)."""
    repo = ReportingRepository.from_session(session)
    if since != _month_start(since):
        return await repo.learners_active(since)
    found, through, rolled = await repo.counts_rollup(
        "learners", since.astimezone(UTC).strftime("%Y-%m")
    )
    if not found or through is None:
        return await repo.learners_active(since)
    live = await repo.learners_active(max(since, through), counted_before=through)
    return _add(rolled, live)


async def statements_per_day(session: AsyncSession, since: datetime) -> list[Count]:
    """Statements stored per day since ``since`` (a day's start)."""
    repo = ReportingRepository.from_session(session)
    if since != _day_start(since):
        return await repo.statements_per_day(since)
    found, through, rolled = await repo.counts_rollup(
        "statements", since.astimezone(UTC).strftime("%Y-%m-%d")
    )
    if not found or through is None:
        return await repo.statements_per_day(since)
    return _add(rolled, await repo.statements_per_day(max(since, through)))


async def roll_up(
    session: AsyncSession, *, now: datetime, settle: timedelta = SETTLE
) -> datetime | None:
    """The ``reporting.rollup`` job: fold everything dated before ``now - settle`` into
    the rollups; returns the new watermark (None: nothing to do).

    The first run folds the whole history; later runs recompute from the start of
    the day before the last watermark (the months from that day's month), so a row
    committed late — dated before the watermark by a transaction still open when the
    job last ran — is counted by the next run, if it is less than a day late.
    """
    repo = ReportingRepository.from_session(session)
    found, last = await repo.lock_rollup()
    through = (now - settle).astimezone(UTC)
    if last is not None and through <= last:
        return None
    from_day = None if last is None else _day_start(last) - timedelta(days=1)
    from_month = None if from_day is None else _month_start(from_day)
    await repo.fold(
        from_day=from_day, from_month=from_month, through=through, now=now, create=not found
    )
    return through


class ReportingService:
    async def ingest(
        self,
        session: ReadSession,
        principal: Principal,
        *,
        institution_id: uuid.UUID,
        institution_key: str,
        days: int = 30,
        now: datetime | None = None,
    ) -> Ingest:
        """The ingest statistics of one institution, for its admin or the operator."""
        authorize(principal, "reporting.institution", Resource(institution_id=institution_id))
        now = now or utc_now()
        since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        repo = ReportingRepository.from_session(session)
        counts = await repo.institution_evaluations(institution_key, since)
        return Ingest(
            since=since,
            statements_per_day=await repo.institution_statements_per_day(institution_id, since),
            evaluated=sum(c.count for c in counts),
            recognised=sum(c.count for c in counts if c.period.endswith(":True")),
            not_recognised=await repo.institution_not_recognised(institution_key, since),
        )

    async def export_learner_data(
        self, session: AsyncSession, learner_id: uuid.UUID
    ) -> dict[str, Any]:
        """Her section of the learner export: the months the dashboard counts her active.

        Erasure keeps these rows: they are derived from the ledger, which keeps her
        entries, and name only the learner id (docs/data-classification.md, "Erasure").
        """
        months = await ReportingRepository.from_session(session).learner_months(learner_id)
        return {"active_months": months}

    async def dashboard(
        self,
        session: ReadSession,
        principal: Principal,
        *,
        months: int = 12,
        days: int = 30,
        now: datetime | None = None,
    ) -> Dashboard:
        """The operator's aggregates: the last ``months`` months and ``days`` days."""
        authorize(principal, "reporting.read")
        now = now or utc_now()
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        since_month = first
        for _ in range(months - 1):
            since_month = (since_month - timedelta(days=1)).replace(day=1)
        since_day = (now - timedelta(days=days - 1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        repo = ReportingRepository.from_session(session)
        return Dashboard(
            now=now,
            since_month=since_month,
            since_day=since_day,
            recognised=await recognised(session, since_month),
            converted=await repo.converted(since_month),
            decisions=await repo.decisions(since_month),
            learners_active=await learners_active(session, since_month),
            statements_per_day=await statements_per_day(session, since_day),
        )


reporting = ReportingService()
