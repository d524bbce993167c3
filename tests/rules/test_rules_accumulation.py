"""Accumulation policy: once per unit, caps per group and calendar year, validity."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from creditbank.rules.accumulation import (
    AccumulationStatus,
    LearnerRecord,
    accumulate,
    add_years,
)
from creditbank.rules.ast import UnitCategory


def run(demo, *, category=UnitCategory.mooc, credits="3.0", record=None, at=None, unit="U-1"):
    return accumulate(
        unit_code=unit,
        category=category,
        credits=Decimal(credits),
        achieved_at=at or datetime(2024, 6, 1, tzinfo=UTC),
        record=record or LearnerRecord(),
        policy=demo.accumulation,
    )


class TestOncePerUnit:
    def test_second_time_refused(self, demo):
        record = LearnerRecord(credited_units=frozenset({"U-1"}))
        result = run(demo, record=record)
        assert result.status is AccumulationStatus.refused
        assert result.credited_credits == 0
        assert result.recognised_credits == Decimal("3.0")


class TestCaps:
    def test_full_when_room(self, demo):
        result = run(demo)
        assert (result.status, result.credited_credits) == (AccumulationStatus.credited, 3)
        assert (result.cap_group, result.cap_year, result.cap_remaining) == ("mooc", 2024, 10)

    def test_exactly_reaching_the_cap_is_full(self, demo):
        record = LearnerRecord().with_credit("A", Decimal("7.0"), group="mooc", year=2024)
        assert run(demo, record=record).status is AccumulationStatus.credited

    def test_reduced_to_the_room_left(self, demo):
        record = LearnerRecord().with_credit("A", Decimal("8.5"), group="mooc", year=2024)
        result = run(demo, record=record)
        assert (result.status, result.credited_credits) == (AccumulationStatus.reduced, 1.5)
        assert "only 1.50 credited" in result.reasons[0].en

    def test_refused_when_full(self, demo):
        record = LearnerRecord().with_credit("A", Decimal("10.0"), group="mooc", year=2024)
        result = run(demo, record=record)
        assert (result.status, result.credited_credits) == (AccumulationStatus.refused, 0)

    def test_calendar_year_is_beijing_time(self, demo):
        record = LearnerRecord().with_credit("A", Decimal("10.0"), group="mooc", year=2024)
        # 2024-12-31 20:00 UTC is 2025-01-01 04:00 in Beijing: next year's cap.
        result = run(demo, record=record, at=datetime(2024, 12, 31, 20, tzinfo=UTC))
        assert (result.cap_year, result.credited_credits) == (2025, 3)

    def test_uncapped_category(self, demo):
        result = run(demo, category=UnitCategory.vocational_certificate, credits="6.0")
        assert (result.cap_group, result.cap_year, result.credited_credits) == (None, None, 6)


class TestValidity:
    def test_five_years(self, demo):
        result = run(demo, at=datetime(2024, 3, 1, 10, tzinfo=UTC))
        assert result.expires_at == datetime(2029, 3, 1, 10, tzinfo=UTC)

    def test_leap_day(self):
        assert add_years(datetime(2024, 2, 29, tzinfo=UTC), 5) == datetime(2029, 2, 28, tzinfo=UTC)
        assert add_years(datetime(2024, 2, 29, tzinfo=UTC), -4) == datetime(2020, 2, 29, tzinfo=UTC)


def test_record_sums_usage_per_group_and_year():
    record = (
        LearnerRecord()
        .with_credit("A", Decimal("1.5"), group="g", year=2024)
        .with_credit("B", Decimal("2.0"), group="g", year=2024)
        .with_credit("C", Decimal("4.0"), group="g", year=2025)
        .with_credit("D", Decimal("4.0"), group=None, year=None)
    )
    assert record.used("g", 2024) == Decimal("3.5")
    assert record.used("g", 2025) == Decimal("4.0")
    assert record.credited_units == {"A", "B", "C", "D"}
