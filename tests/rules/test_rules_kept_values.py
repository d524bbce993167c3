"""Values the hot path works out once and keeps: never one of another set or policy.

The accumulation policy's cap groups by category and its calendar offset, the JSON of
the standards' own models an evaluation names (its ref, unit titles) and the seconds
of a duration text are kept between statements; each is kept by the exact object (or
text) it was worked out from, so a copy with other values, or a new standards version,
is worked out afresh.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson

from creditbank.rules import engine
from creditbank.rules.accumulation import LearnerRecord
from creditbank.rules.ast import UnitCategory
from creditbank.rules.engine import evaluate_statement, evaluation_json
from creditbank.rules.facts import duration_seconds
from creditbank.rules.outcomes import Counted, ToStore, build_rows, record_from
from creditbank.standards.schemas import AccumulationPolicy, StandardsSet

PYTHON = "https://mooc1.example.cn/courses/python"
FIRST_AID = "https://fxcc.example.edu.cn/courses/first-aid-16h"
AT = datetime(2024, 5, 1, tzinfo=UTC)


def _variant(base: StandardsSet, **parts: Any) -> StandardsSet:
    document = base.model_dump(mode="json", by_alias=True)
    document.update(parts)
    return StandardsSet.model_validate(document)


def _capped(policy: AccumulationPolicy) -> UnitCategory:
    return policy.caps[0].categories[0]


class TestPolicy:
    def test_cap_for_is_the_first_cap_group_of_the_category(self, demo):
        policy = demo.accumulation
        for category in UnitCategory:
            expected = next((c for c in policy.caps if category in c.categories), None)
            assert policy.cap_for(category) is expected

    def test_a_copy_with_other_caps_reads_its_own(self, demo):
        policy = demo.accumulation
        category = _capped(policy)
        assert policy.cap_for(category) is not None
        uncapped = policy.model_copy(update={"caps": ()})
        assert uncapped.cap_for(category) is None
        assert policy.cap_for(category) is policy.caps[0]
        bigger = policy.caps[0].model_copy(update={"max_credits": Decimal("99.00")})
        other = policy.model_copy(update={"caps": (bigger, *policy.caps[1:])})
        assert other.cap_for(category) is bigger

    def test_calendar_timezone_follows_the_offset(self, demo):
        policy = demo.accumulation
        assert policy.calendar_timezone == timezone(timedelta(hours=8))
        west = policy.model_copy(update={"calendar_utc_offset": "-05:30"})
        assert west.calendar_timezone == timezone(-timedelta(hours=5, minutes=30))
        assert policy.calendar_timezone == timezone(timedelta(hours=8))

    def test_policies_compare_as_before_once_used(self, demo):
        policy = demo.accumulation
        again = AccumulationPolicy.model_validate(policy.model_dump(mode="json"))
        policy.cap_for(_capped(policy))
        assert policy.calendar_timezone is not None
        assert again == policy

    def test_a_record_under_another_offset_counts_another_year(self, demo):
        category = _capped(demo.accumulation)
        unit = next(u for u in demo.units.units if u.category == category)

        late = datetime(2024, 12, 31, 20, tzinfo=UTC)  # 2025 at +08:00
        row = Counted("active", unit.code, unit.category.value, Decimal("1.00"), late)
        east = record_from([row], demo)
        west_policy = demo.accumulation.model_copy(update={"calendar_utc_offset": "+00:00"})
        west = record_from([row], demo.model_copy(update={"accumulation": west_policy}))
        assert [u.year for u in east.cap_usage] == [2025]
        assert [u.year for u in west.cap_usage] == [2024]


class TestModelJson:
    def _detail(self, standards: StandardsSet, make_facts: Any) -> Any:
        facts = make_facts("fxcc", "attended", FIRST_AID, {"duration": "PT20H"})
        result = evaluate_statement(facts, LearnerRecord(), standards)
        rows = build_rows(
            ToStore(uuid.uuid4(), uuid.uuid4(), result, "statement"), AT, serialised=True
        )
        return evaluation_json(result), orjson.loads(orjson.dumps(rows.evaluation["detail"]))

    def test_a_new_standards_version_names_itself(self, demo, make_facts):
        newer = _variant(demo, meta={**demo.meta.model_dump(mode="json"), "version": "9.9.9"})
        first, _ = self._detail(demo, make_facts)
        second, detail = self._detail(newer, make_facts)
        assert first["standards"]["version"] == demo.meta.version
        assert second["standards"] == newer.ref.model_dump(mode="json")
        assert detail["standards"]["version"] == "9.9.9"
        assert {d["standards"]["version"] for d in detail["decisions"]} == {"9.9.9"}

    def test_kept_json_is_what_a_fresh_dump_gives(self, demo, make_facts):
        warm = [self._detail(demo, make_facts) for _ in range(2)]
        engine._MODEL_JSON.clear()
        engine._VERDICTS.clear()
        engine._TRACE_JSON.clear()
        fresh = self._detail(demo, make_facts)
        assert warm[0] == warm[1] == fresh
        assert fresh[0]["decisions"][0]["unit_title"] == (
            demo.unit(fresh[0]["unit_code"]).title.model_dump(mode="json")
        )

    def test_bytes_as_without_the_kept_json(self, demo, make_facts):
        facts = make_facts("mooc1", "completed", PYTHON, {"score": {"scaled": 0.9}})
        result = evaluate_statement(facts, LearnerRecord(), demo)
        kept = engine.evaluation_bytes(result)

        def plain(value: Any) -> Any:
            if isinstance(value, Decimal):
                return f"{value:.2f}"
            return value.model_dump(mode="json")

        assert kept == orjson.dumps(result, default=plain, option=orjson.OPT_UTC_Z)


def test_duration_seconds_kept_or_not_is_exact():
    duration_seconds.cache_clear()
    first = duration_seconds("PT1H30M")
    assert first == duration_seconds("PT1H30M") == Decimal(5400)
    assert duration_seconds("P1DT0.5S") == Decimal("86400.5")


def test_the_bank_scope_reads_as_its_sets():
    from types import SimpleNamespace

    from creditbank.rules.recognition import _bank_scope_allows

    def allows(scope: Any, unit: str | None, category: str | None) -> bool:
        return _bank_scope_allows(SimpleNamespace(accreditation_scope=scope), unit, category)  # type: ignore[arg-type]

    assert allows(None, "U-1", "mooc")
    assert allows({}, None, None)
    assert allows({"units": [], "categories": []}, "U-1", "mooc")
    assert allows({"units": ["U-1"]}, "U-1", None)
    assert not allows({"units": ["U-1"]}, "U-2", "mooc")
    assert allows({"categories": ["mooc"]}, "U-2", "mooc")
    assert not allows({"categories": ["mooc"]}, None, "degree")
    assert allows({"units": ["U-1"], "categories": ["mooc"]}, "U-9", "mooc")
    assert not allows({"units": "U-10"}, "U-1", None)  # text is a set of characters
