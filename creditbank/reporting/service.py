"""The operator's dashboard (数字驾驶舱): aggregates read with the read session only."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

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
            recognised=await repo.recognised(since_month),
            converted=await repo.converted(since_month),
            decisions=await repo.decisions(since_month),
            learners_active=await repo.learners_active(since_month),
            statements_per_day=await repo.statements_per_day(since_day),
        )


reporting = ReportingService()
