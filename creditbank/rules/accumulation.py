"""Accumulation (学分积累): how much of a recognised outcome a learner is credited.

Pure: given the policy and what the learner already has (:class:`LearnerRecord`),
:func:`accumulate` says how many credits count, why, and when they expire. The
caller (the ledger) posts them and keeps the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from creditbank.kit.credits import ZERO, parse_credits
from creditbank.rules.ast import UnitCategory
from creditbank.rules.trace import Message, decimal_text
from creditbank.standards.schemas import AccumulationPolicy

__all__ = [
    "AccumulationResult",
    "AccumulationStatus",
    "CapUsage",
    "LearnerRecord",
    "accumulate",
    "add_years",
]

# Frozen dataclasses, not validated models: built per statement from values already
# exact to the hundredth (the engine's, the ledger's); see creditbank.rules.trace.


@dataclass(frozen=True, slots=True)
class CapUsage:
    """Credits already counted in one cap group in one calendar year."""

    group: str
    year: int
    credits: Decimal


@dataclass(frozen=True, slots=True)
class LearnerRecord:
    """What a learner already has, as accumulation needs it.

    ``credited_units``: units credited and still counting (not revoked).
    ``cap_usage``: credits counted per cap group and calendar year.
    """

    credited_units: frozenset[str] = frozenset()
    cap_usage: tuple[CapUsage, ...] = ()

    def used(self, group: str, year: int) -> Decimal:
        """Credits already counted in ``group`` in ``year``."""
        return sum((u.credits for u in self.cap_usage if u.group == group and u.year == year), ZERO)

    def with_credit(
        self, unit_code: str, credits: Decimal, *, group: str | None, year: int | None
    ) -> LearnerRecord:
        """This record after ``credits`` of ``unit_code`` were credited."""
        usage = self.cap_usage
        if group is not None and year is not None and credits > 0:
            usage = (*usage, CapUsage(group=group, year=year, credits=parse_credits(credits)))
        return LearnerRecord(credited_units=self.credited_units | {unit_code}, cap_usage=usage)


class AccumulationStatus(StrEnum):
    """What came of accumulating one outcome."""

    credited = "credited"  # in full
    reduced = "reduced"  # partly: a cap was reached
    refused = "refused"  # nothing: unit already credited, or cap already full


@dataclass(frozen=True, slots=True, kw_only=True)
class AccumulationResult:
    """Credits that count for one outcome, and why (credits exact to the hundredth)."""

    status: AccumulationStatus
    recognised_credits: Decimal
    credited_credits: Decimal
    cap_group: str | None = None
    cap_year: int | None = None
    cap_remaining: Decimal | None = None  # room left in the cap group before this outcome
    expires_at: datetime | None = None
    reasons: tuple[Message, ...] = ()


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` plus whole calendar years; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def accumulate(
    *,
    unit_code: str,
    category: UnitCategory,
    credits: Decimal,
    achieved_at: datetime,
    record: LearnerRecord,
    policy: AccumulationPolicy,
) -> AccumulationResult:
    """Apply the policy to an outcome of ``credits`` for ``unit_code`` achieved at a time.

    Once per unit: a unit already credited gives nothing. Caps: the outcome's cap
    group may take at most ``max_credits`` per calendar year (in the policy's UTC
    offset); what does not fit is not credited. Validity: ``expires_at`` is
    ``achieved_at`` plus ``validity_years``.
    """
    expires_at = (
        add_years(achieved_at, policy.validity_years) if policy.validity_years is not None else None
    )
    reasons: list[Message] = []
    if expires_at is not None:
        reasons.append(
            Message(
                zh=f"有效期 {policy.validity_years} 年，至 {expires_at.isoformat()}",
                en=f"valid {policy.validity_years} years, until {expires_at.isoformat()}",
            )
        )
    cap = policy.cap_for(category)
    year = achieved_at.astimezone(policy.calendar_timezone).year if cap is not None else None
    group = cap.group if cap is not None else None

    if policy.once_per_unit and unit_code in record.credited_units:
        reasons.insert(
            0,
            Message(
                zh=f"单元 {unit_code} 已计入学分，同一单元只计一次",
                en=f"unit {unit_code} is already credited; a unit counts once",
            ),
        )
        return AccumulationResult(
            status=AccumulationStatus.refused,
            recognised_credits=credits,
            credited_credits=ZERO,
            cap_group=group,
            cap_year=year,
            expires_at=expires_at,
            reasons=tuple(reasons),
        )

    credited = credits
    remaining: Decimal | None = None
    status = AccumulationStatus.credited
    if cap is not None and year is not None:
        used = record.used(cap.group, year)
        remaining = max(cap.max_credits - used, ZERO)
        limit = decimal_text(cap.max_credits)
        if credits <= remaining:
            reasons.insert(
                0,
                Message(
                    zh=f"{cap.group} 组 {year} 年已计 {decimal_text(used)}，上限 {limit}，全额计入",
                    en=(
                        f"{cap.group} {year}: {decimal_text(used)} of {limit} used; "
                        "credited in full"
                    ),
                ),
            )
        else:
            credited = remaining
            status = AccumulationStatus.reduced if remaining > 0 else AccumulationStatus.refused
            reasons.insert(
                0,
                Message(
                    zh=(
                        f"{cap.group} 组 {year} 年已计 {decimal_text(used)}，上限 {limit}，"
                        f"只计入 {decimal_text(credited)}"
                    ),
                    en=(
                        f"{cap.group} {year}: {decimal_text(used)} of {limit} used; "
                        f"only {decimal_text(credited)} credited"
                    ),
                ),
            )
    return AccumulationResult(
        status=status,
        recognised_credits=credits,
        credited_credits=credited,
        cap_group=group,
        cap_year=year,
        cap_remaining=remaining,
        expires_at=expires_at,
        reasons=tuple(reasons),
    )
