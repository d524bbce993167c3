"""Facts from xAPI statements: exact numbers, durations, fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbank.rules.facts import (
    StatementFactsError,
    describe_facts,
    duration_seconds,
    facts_from_statement,
)

STATEMENT = {
    "id": "6b3a4f3c-0000-4000-8000-000000000001",
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
    "object": {"id": "https://mooc1.example.cn/courses/python"},
    "result": {
        "score": {"scaled": 0.82, "raw": 82},
        "success": True,
        "completion": False,
        "duration": "PT1H30M",
        "extensions": {"https://x.example.cn/e": 1},
    },
    "context": {
        "registration": "AAAAAAAA-0000-4000-8000-000000000000",
        "extensions": {"https://x.example.cn/c": "v"},
    },
    "timestamp": "2024-03-01T10:00:00+08:00",
}


def facts(statement=STATEMENT):
    return facts_from_statement(
        statement, institution_key="mooc1", institution_type="mooc", accredited=True
    )


def test_every_fact_extracted():
    f = facts()
    assert f.scaled == Decimal("0.82")
    assert str(f.scaled) == "0.82"  # from the number's text, not its binary value
    assert f.raw == 82
    assert (f.success, f.completion) == (True, False)
    assert f.duration_seconds == 5400
    assert f.duration_hours == Decimal("1.5")
    assert f.registration == "aaaaaaaa-0000-4000-8000-000000000000"
    assert f.context_extensions == {"https://x.example.cn/c": "v"}
    assert f.result_extensions == {"https://x.example.cn/e": 1}
    assert f.timestamp == datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert f.activity_id == "https://mooc1.example.cn/courses/python"


def test_missing_parts_are_none():
    f = facts({"verb": {"id": "http://x.example.cn/v"}, "object": {"objectType": "Agent"},
               "stored": "2024-03-01T00:00:00Z"})  # fmt: skip
    assert f.activity_id is None
    assert (f.scaled, f.raw, f.success, f.completion, f.duration_seconds) == (None,) * 5
    assert f.timestamp == datetime(2024, 3, 1, tzinfo=UTC)


def test_statement_without_time_or_verb_is_refused():
    with pytest.raises(StatementFactsError):
        facts({"verb": {"id": "http://x.example.cn/v"}})
    with pytest.raises(StatementFactsError):
        facts({"timestamp": "2024-03-01T00:00:00Z"})


def test_naive_timestamp_is_utc():
    f = facts({**STATEMENT, "timestamp": "2024-03-01T10:00:00"})
    assert f.timestamp == datetime(2024, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT16H", 57600), ("PT4H35M59.14S", Decimal("16559.14")), ("P1W", 604800),
     ("P1DT1S", 86401), ("PT0.5H", 1800), ("P1Y", 365 * 86400), ("P1M", 30 * 86400)],
)  # fmt: skip
def test_durations(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["P", "PT", "1H", "PT1D", "P1H", "PT-1H"])
def test_bad_durations(text):
    with pytest.raises(ValueError):  # noqa: PT011
        duration_seconds(text)


@given(st.integers(0, 999), st.integers(0, 59), st.integers(0, 59))
def test_duration_hms(hours, minutes, seconds):
    assert (
        duration_seconds(f"PT{hours}H{minutes}M{seconds}S") == hours * 3600 + minutes * 60 + seconds
    )


def test_facts_are_described_for_authors():
    names = [f["name"] for f in describe_facts()]
    assert "scaled" in names
    assert "duration_seconds" in names
