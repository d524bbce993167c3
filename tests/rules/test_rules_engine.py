"""The recognition engine: every leaf, gates, credits expressions, determinism, properties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditbank.rules.accumulation import LearnerRecord
from creditbank.rules.engine import evaluate_statement, evaluation_json
from creditbank.rules.facts import StatementFacts
from creditbank.rules.trace import ConditionTrace, RuleStatus
from creditbank.standards.schemas import StandardsSet

PYTHON = "https://mooc1.example.cn/courses/python"
FIRST_AID = "https://fxcc.example.edu.cn/courses/first-aid-16h"
VERB = "http://adlnet.gov/expapi/verbs/"


def variant(base: StandardsSet, **parts: Any) -> StandardsSet:
    """``base`` with whole parts replaced (validated and hashed again)."""
    document = base.model_dump(mode="json", by_alias=True)
    document.update(parts)
    return StandardsSet.model_validate(document)


def with_rule(base: StandardsSet, when: dict[str, Any], credits: dict[str, Any] | None = None):
    rule = {"id": "T", "version": 1, "title": {"zh": "测试", "en": "test"}, "when": when}
    if credits is not None:
        rule["credits"] = credits
    return variant(base, recognition={"rules": [rule]})


def leaf(standards: StandardsSet, facts: StatementFacts) -> ConditionTrace:
    (rule,) = evaluate_statement(facts, LearnerRecord(), standards).trace.rules
    return rule.condition


BELOW = {"score": {"scaled": 0.5999}}
JAN_2024, JAN_2025 = "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"
MOOC_RESULT = {"score": {"scaled": 0.9, "raw": 80}, "success": True, "completion": True}


class TestLeaves:
    @pytest.mark.parametrize(
        ("condition", "institution", "activity", "result", "options", "passed"),
        [
            ({"verb_in": [VERB + "completed"]}, "mooc1", PYTHON, MOOC_RESULT, {}, True),
            ({"verb_in": [VERB + "passed"]}, "mooc1", PYTHON, MOOC_RESULT, {}, False),
            ({"institution_type_in": ["mooc", "degree"]}, "mooc1", PYTHON, None, {}, True),
            ({"institution_type_in": ["vocational"]}, "mooc1", PYTHON, None, {}, False),
            ({"institution_accredited": True}, "mooc1", PYTHON, None, {}, True),
            ({"institution_accredited": False}, "mooc1", PYTHON, None, {}, False),
            ({"institution_accredited": False}, "shady", PYTHON, None, {}, True),
            ({"object_mapped": True}, "mooc1", PYTHON, None, {}, True),
            ({"object_mapped": True}, "mooc1", PYTHON + "-2", None, {}, False),
            ({"object_mapped": False}, "mooc1", PYTHON + "-2", None, {}, True),
            ({"unit_category_in": ["mooc"]}, "mooc1", PYTHON, None, {}, True),
            ({"unit_category_in": ["senior"]}, "mooc1", PYTHON, None, {}, False),
            ({"unit_category_in": ["mooc"]}, "mooc1", PYTHON + "-2", None, {}, False),
            ({"success_is": True}, "mooc1", PYTHON, {"success": True}, {}, True),
            ({"success_is": True}, "mooc1", PYTHON, {"success": False}, {}, False),
            ({"success_is": False}, "mooc1", PYTHON, {"success": False}, {}, True),
            ({"success_is": False}, "mooc1", PYTHON, {}, {}, False),
            ({"completion_is": True}, "mooc1", PYTHON, {"completion": True}, {}, True),
            ({"completion_is": True}, "mooc1", PYTHON, None, {}, False),
            ({"score_scaled_gte": "0.60"}, "mooc1", PYTHON, {"score": {"scaled": 0.6}}, {}, True),
            ({"score_scaled_gte": "0.60"}, "mooc1", PYTHON, BELOW, {}, False),
            ({"score_scaled_gte": "0.60"}, "mooc1", PYTHON, {"score": {"raw": 99}}, {}, False),
            ({"score_raw_gte": "60"}, "mooc1", PYTHON, {"score": {"raw": 60}}, {}, True),
            ({"score_raw_gte": "60"}, "mooc1", PYTHON, {"score": {"raw": 59.99}}, {}, False),
            ({"duration_gte": "16"}, "mooc1", PYTHON, {"duration": "PT16H"}, {}, True),
            ({"duration_gte": "16"}, "mooc1", PYTHON, {"duration": "PT15H59M"}, {}, False),
            ({"duration_gte": "16"}, "mooc1", PYTHON, None, {}, False),
            ({"hours_gte": "32"}, "mooc1", PYTHON, None, {}, True),  # mapping: 32 h
            ({"hours_gte": "32"}, "mooc1", PYTHON, {"duration": "PT10H"}, {}, False),
            ({"hours_gte": "1"}, "mooc1", PYTHON + "-2", None, {}, False),  # no hours at all
            (
                {"timestamp_within": {"from": "2024-03-01T10:00:00+08:00"}},
                "mooc1", PYTHON, None, {}, True,
            ),
            (
                {"timestamp_within": {"until": "2024-03-01T02:00:00Z"}},
                "mooc1", PYTHON, None, {}, False,  # until is exclusive: 02:00Z is 10:00+08
            ),
            (
                {"timestamp_within": {"from": JAN_2024, "until": JAN_2025}},
                "mooc1", PYTHON, None, {}, True,
            ),
            (
                {"registration_in": ["AAAAAAAA-0000-4000-8000-000000000000"]},
                "mooc1", PYTHON, None,
                {"context": {"registration": "aaaaaaaa-0000-4000-8000-000000000000"}}, True,
            ),
            (
                {"registration_in": ["aaaaaaaa-0000-4000-8000-000000000000"]},
                "mooc1", PYTHON, None, {}, False,
            ),
            (
                {"extension_equals": {"key": "https://x.example.cn/ext/track", "value": 1.5}},
                "mooc1", PYTHON, None,
                {"context": {"extensions": {"https://x.example.cn/ext/track": 1.50}}}, True,
            ),
            (
                {"extension_equals": {"key": "https://x.example.cn/ext/track", "value": "a"}},
                "mooc1", PYTHON, None,
                {"context": {"extensions": {"https://x.example.cn/ext/track": "b"}}}, False,
            ),
            (
                {"extension_equals": {"key": "https://x.example.cn/ext/track", "value": True}},
                "mooc1", PYTHON, None,
                {"context": {"extensions": {"https://x.example.cn/ext/track": 1}}}, False,
            ),
            (
                {
                    "extension_equals": {
                        "key": "https://x.example.cn/ext/level",
                        "value": {"a": [1, 2]},
                        "scope": "result",
                    }
                },
                "mooc1", PYTHON,
                {"extensions": {"https://x.example.cn/ext/level": {"a": [1, 2.0]}}}, {}, True,
            ),
            (
                {"extension_equals": {"key": "https://x.example.cn/ext/none", "value": 1}},
                "mooc1", PYTHON, None, {}, False,
            ),
        ],
    )  # fmt: skip
    def test_leaf(
        self, demo, make_facts, condition, institution, activity, result, options, passed
    ):
        facts = make_facts(institution, "completed", activity, result, **options)
        trace = leaf(with_rule(demo, condition), facts)
        assert trace.kind == next(iter(condition))
        assert trace.passed is passed
        assert trace.message.zh
        assert trace.message.en

    def test_combinators_evaluate_every_child(self, demo, make_facts):
        condition = {
            "all": [
                {"verb_in": [VERB + "passed"]},
                {"any": [{"success_is": True}, {"completion_is": True}]},
                {"not": {"score_scaled_gte": "0.95"}},
            ]
        }
        trace = leaf(
            with_rule(demo, condition), make_facts("mooc1", "completed", PYTHON, MOOC_RESULT)
        )
        assert not trace.passed
        assert [c.kind for c in trace.children] == ["verb_in", "any", "not"]
        assert [c.passed for c in trace.children] == [False, True, True]
        assert [leaf.kind for leaf in trace.leaves()] == [
            "verb_in", "success_is", "completion_is", "score_scaled_gte"
        ]  # fmt: skip
        assert trace.message.en == "all of 3: 2 hold"


class TestThresholds:
    @pytest.mark.parametrize(
        ("scaled", "recognised"),
        [(0.6, True), (Decimal("0.60"), True), (0.5999, False), (1, True), (-1, False)],
    )
    def test_r2_threshold_is_inclusive(self, demo, make_facts, scaled, recognised):
        facts = make_facts(
            "mooc1", "completed", PYTHON, {"score": {"scaled": scaled}, "success": True}
        )
        assert evaluate_statement(facts, LearnerRecord(), demo).recognised is recognised


def r3_set(demo: StandardsSet, first_aid_credits: str) -> StandardsSet:
    document = demo.model_dump(mode="json", by_alias=True)
    for unit in document["units"]["units"]:
        if unit["code"] == "COMM-FA-16":
            unit["credits"] = first_aid_credits
    return StandardsSet.model_validate(document)


class TestPerHours:
    @pytest.mark.parametrize(
        ("duration", "unit_credits", "expected"),
        [
            ("PT20H", "1.0", "1.0"),  # 1.25 → 1.0, capped at 1.0
            ("PT40H", "3.0", "2.5"),  # 2.5
            ("PT16H", "1.0", "1.0"),
            ("PT64H", "1.0", "1.0"),  # 4.0 capped at the unit's 1.0
            ("PT8H", "1.0", "0.5"),
            ("PT23H59M", "3.0", "1.0"),  # 1.499… → 1.0
            ("PT24H", "3.0", "1.5"),
            ("P2D", "3.0", "3.0"),  # 48 h → 3.0
            (None, "1.0", "1.0"),  # mapping's 16 h
        ],
    )
    def test_r3_rounds_down_to_half_credits_capped(
        self, demo, make_facts, duration, unit_credits, expected
    ):
        standards = r3_set(demo, unit_credits)
        result = {"duration": duration} if duration else None
        evaluation = evaluate_statement(
            make_facts("fxcc", "attended", FIRST_AID, result), LearnerRecord(), standards
        )
        (decision,) = evaluation.decisions
        assert decision.credits == Decimal(expected)
        assert decision.rule_id == "R3"

    def test_zero_gives_no_outcome(self, demo, make_facts):
        facts = make_facts("fxcc", "attended", FIRST_AID, {"duration": "PT7H59M"})
        evaluation = evaluate_statement(facts, LearnerRecord(), demo)
        assert not evaluation.recognised
        r3 = evaluation.trace.rules[2]
        assert r3.status is RuleStatus.zero_credits
        assert r3.credits == 0
        assert evaluation.reason.en == "not recognised: credits come to 0"

    def test_no_hours_anywhere_gives_no_outcome(self, demo, make_facts):
        document = demo.model_dump(mode="json", by_alias=True)
        for institution in document["institutions"]["institutions"]:
            for mapping in institution["mappings"]:
                mapping["hours"] = None
        standards = StandardsSet.model_validate(document)
        evaluation = evaluate_statement(
            make_facts("fxcc", "attended", FIRST_AID), LearnerRecord(), standards
        )
        assert not evaluation.recognised
        assert evaluation.trace.rules[2].credits_message is not None
        assert "no hours" in evaluation.trace.rules[2].credits_message.en


class TestGates:
    def test_not_accredited_by_the_bank(self, demo, make_facts):
        facts = make_facts("mooc1", "completed", PYTHON, MOOC_RESULT, accredited=False)
        evaluation = evaluate_statement(facts, LearnerRecord(), demo)
        assert not evaluation.recognised
        r2 = evaluation.trace.rules[1]
        assert r2.status is RuleStatus.blocked
        assert "not accredited" in r2.message.en

    def test_not_accredited_in_the_catalog(self, demo, make_facts):
        facts = make_facts(
            "shady",
            "completed",
            "https://shady.example.com/courses/data-structures",
            MOOC_RESULT,
            accredited=True,
            institution_type="mooc",
        )
        evaluation = evaluate_statement(facts, LearnerRecord(), demo)
        assert not evaluation.recognised
        assert "not accredited in these standards" in evaluation.reason.en

    def test_unknown_institution(self, demo, make_facts):
        facts = make_facts("nobody", "completed", PYTHON, MOOC_RESULT, institution_type="mooc")
        evaluation = evaluate_statement(facts, LearnerRecord(), demo)
        assert not evaluation.recognised
        assert [g.passed for g in evaluation.trace.gates[:2]] == [False, False]

    def test_unit_outside_the_scope(self, demo, make_facts):
        document = demo.model_dump(mode="json", by_alias=True)
        mooc1 = next(i for i in document["institutions"]["institutions"] if i["key"] == "mooc1")
        mooc1["scope"] = {"categories": ["senior"]}
        standards = StandardsSet.model_validate(document)
        evaluation = evaluate_statement(
            make_facts("mooc1", "completed", PYTHON, MOOC_RESULT), LearnerRecord(), standards
        )
        assert not evaluation.recognised
        assert evaluation.trace.gates[-1].gate == "unit_in_scope"
        assert "not within mooc1's accredited scope" in evaluation.reason.en

    def test_unmapped_activity(self, demo, make_facts):
        facts = make_facts("mooc1", "completed", PYTHON + "/other", MOOC_RESULT)
        evaluation = evaluate_statement(facts, LearnerRecord(), demo)
        assert evaluation.unit_code is None
        assert not evaluation.recognised


class TestRuleOrder:
    def test_first_match_decides_later_ones_are_superseded(self, demo, make_facts):
        rules = [
            {"id": "A", "version": 2, "title": {"zh": "甲", "en": "A"},
             "when": {"verb_in": [VERB + "completed"]}},
            {"id": "B", "version": 1, "title": {"zh": "乙", "en": "B"},
             "when": {"success_is": True}},
        ]  # fmt: skip
        standards = variant(demo, recognition={"rules": rules})
        evaluation = evaluate_statement(
            make_facts("mooc1", "completed", PYTHON, MOOC_RESULT), LearnerRecord(), standards
        )
        assert [t.status for t in evaluation.trace.rules] == [
            RuleStatus.matched,
            RuleStatus.superseded,
        ]
        (decision,) = evaluation.decisions
        assert (decision.rule_id, decision.rule_version) == ("A", 2)


class TestCaps:
    def test_mooc_cap_reduces_then_refuses(self, demo, make_facts):
        ds = "https://mooc1.example.cn/courses/data-structures"
        facts = make_facts("mooc1", "completed", ds, MOOC_RESULT)
        record = LearnerRecord().with_credit("X-1", Decimal("9.0"), group="mooc", year=2024)
        (decision,) = evaluate_statement(facts, record, demo).decisions
        assert decision.credits == Decimal("3.0")
        assert decision.credited == Decimal("1.0")
        assert decision.accumulation.status == "reduced"
        record = record.with_credit("X-2", Decimal("1.0"), group="mooc", year=2024)
        (decision,) = evaluate_statement(facts, record, demo).decisions
        assert decision.credited == 0
        assert decision.accumulation.status == "refused"

    def test_community_and_senior_share_one_cap(self, demo, make_facts):
        record = LearnerRecord(
        ).with_credit("C-1", Decimal("7.5"), group="community_senior", year=2024)  # fmt: skip
        facts = make_facts(
            "syu3a", "completed", "https://syu3a.example.edu.cn/courses/calligraphy",
            {"duration": "PT16H"},
        )  # fmt: skip
        (decision,) = evaluate_statement(facts, record, demo).decisions
        assert decision.credited == Decimal("0.5")

    def test_other_year_is_not_capped(self, demo, make_facts):
        record = LearnerRecord().with_credit("X-1", Decimal("10.0"), group="mooc", year=2023)
        facts = make_facts("mooc1", "completed", PYTHON, MOOC_RESULT)
        assert evaluate_statement(facts, record, demo).credited == Decimal("2.0")


class TestDeterminism:
    def test_same_input_same_output_including_trace(self, demo, make_facts):
        facts = make_facts("fxcc", "attended", FIRST_AID, {"duration": "PT20H"})
        first = evaluate_statement(facts, LearnerRecord(), demo)
        second = evaluate_statement(facts, LearnerRecord(), demo)
        assert first == second
        assert evaluation_json(first) == evaluation_json(second)


class TestKeptVerdicts:
    """The engine keeps a verdict by the facts its rules read: never one for other facts."""

    @pytest.mark.parametrize(
        ("condition", "first", "second"),
        [
            (
                {"timestamp_within": {"until": JAN_2025}},
                {"timestamp": JAN_2024},
                {"timestamp": "2025-06-01T00:00:00Z"},
            ),
            (
                {"registration_in": ["aaaaaaaa-0000-4000-8000-000000000000"]},
                {"context": {"registration": "aaaaaaaa-0000-4000-8000-000000000000"}},
                {"context": {"registration": "bbbbbbbb-0000-4000-8000-000000000000"}},
            ),
            (
                {"extension_equals": {"key": "https://x.example.cn/ext/track", "value": 1}},
                {"context": {"extensions": {"https://x.example.cn/ext/track": 1}}},
                {"context": {"extensions": {"https://x.example.cn/ext/track": 2}}},
            ),
        ],
    )
    def test_facts_a_rule_reads_tell_verdicts_apart(
        self, demo, make_facts, condition, first, second
    ):
        standards = with_rule(demo, condition)
        one = make_facts("mooc1", "completed", PYTHON, None, **first)
        two = make_facts("mooc1", "completed", PYTHON, None, **second)
        assert leaf(standards, one).passed is True
        assert leaf(standards, two).passed is False
        assert leaf(standards, one).passed is True

    def test_every_fact_but_the_id_is_in_the_key(self, demo, make_facts):
        """A fact added to StatementFacts must be in the verdict's key (or be listed
        here as one no rule reads), else two statements apart in it would share one."""
        from creditbank.rules import engine
        from creditbank.rules.facts import StatementFacts

        facts = make_facts("mooc1", "completed", PYTHON, {"score": {"scaled": 0.9}})
        reads = engine._Reads(timestamp=True, registration=True, extensions=True)
        changed = {
            "verb_id": "http://adlnet.gov/expapi/verbs/passed",
            "activity_id": "https://x.example.cn/other",
            "institution_key": "fxcc",
            "institution_type": "community",
            "accredited": not facts.accredited,
            "scaled": Decimal("0.91"),
            "raw": Decimal("7"),
            "success": True,
            "completion": True,
            "duration_seconds": Decimal("60"),
            "timestamp": facts.timestamp.replace(year=2020),
            "registration": "bbbbbbbb-0000-4000-8000-000000000000",
            "context_extensions": {"https://x.example.cn/ext/a": 1},
            "result_extensions": {"https://x.example.cn/ext/b": 1},
        }
        not_read = {"statement_id"}
        assert set(StatementFacts.model_fields) == set(changed) | not_read
        key = engine._verdict_key(facts, demo, reads)
        for name, value in changed.items():
            other = facts.model_copy(update={name: value})
            assert engine._verdict_key(other, demo, reads) != key, name

    def test_the_conditions_that_read_optional_facts_are_known(self):
        """Only these leaves read a fact the key leaves out unless a rule reads it: a new
        leaf kind must be placed in engine._reads (or read only facts always keyed)."""
        from creditbank.rules.ast import LEAVES

        assert {cls.kind for cls in LEAVES} == {
            "verb_in", "institution_type_in", "institution_accredited", "object_mapped",
            "unit_category_in", "success_is", "completion_is", "score_scaled_gte",
            "score_raw_gte", "duration_gte", "hours_gte",
            "timestamp_within", "registration_in", "extension_equals",
        }  # fmt: skip

    def test_a_score_as_written(self, demo, make_facts):
        standards = with_rule(demo, {"score_scaled_gte": "0.6"})
        short = make_facts("mooc1", "completed", PYTHON, {"score": {"scaled": 0.6}})
        long = short.model_copy(update={"scaled": Decimal("0.60")})
        assert leaf(standards, short).message.en == "score.scaled 0.6 ≥ 0.6"
        assert leaf(standards, long).message.en == "score.scaled 0.60 ≥ 0.6"

    def test_sets_of_one_content_hash_apart(self, demo, make_facts):
        again = variant(demo)  # R1's "0.60" read back as "0.6": the hash reads them alike
        assert again.content_hash == demo.content_hash
        facts = make_facts("fxcc", "attended", FIRST_AID, {"duration": "PT20H"})
        shown = [
            str(evaluation_json(evaluate_statement(facts, LearnerRecord(), s)))
            for s in (demo, again, demo)
        ]
        assert "(needs ≥ 0.60)" in shown[0]
        assert "(needs ≥ 0.60)" not in shown[1]
        assert shown[2] == shown[0]

    def test_kept_verdicts_give_what_a_fresh_evaluation_gives(self, demo, make_facts):
        from creditbank.rules import engine
        from creditbank.rules.outcomes import ToStore, build_rows

        facts = [
            make_facts("mooc1", "completed", PYTHON, {"score": {"scaled": s}, "success": True})
            for s in (0.5, 0.97, 0.5, 0.97)
        ] + [make_facts("fxcc", "attended", FIRST_AID, {"duration": "PT20H"})] * 2
        record = LearnerRecord()

        def detail(one: StatementFacts) -> Any:
            result = evaluate_statement(one, record, demo)
            item = ToStore(uuid.uuid4(), uuid.uuid4(), result, "statement")
            rows = build_rows(item, datetime(2024, 5, 1, tzinfo=UTC), serialised=True)
            return evaluation_json(result), orjson.loads(orjson.dumps(rows.evaluation["detail"]))

        warm = [detail(one) for one in facts]
        fresh = []
        for one in facts:
            engine._VERDICTS.clear()
            engine._TRACE_JSON.clear()
            fresh.append(detail(one))
        assert warm == fresh


INSTITUTIONS = ["fxvs", "syu3a", "fxcc", "mooc1", "hbou", "shady", "nobody"]
ACTIVITIES = [
    "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment",
    PYTHON,
    "https://mooc1.example.cn/courses/data-structures",
    FIRST_AID,
    "https://syu3a.example.edu.cn/courses/calligraphy",
    "https://shady.example.com/courses/data-structures",
    "https://unmapped.example.cn/x",
]
TYPES = ["vocational", "senior", "community", "mooc", "degree", "training"]


@st.composite
def statement_facts(draw: st.DrawFn) -> StatementFacts:
    scaled = draw(st.none() | st.decimals(min_value=-1, max_value=1, places=4, allow_nan=False))
    seconds = draw(st.none() | st.integers(min_value=0, max_value=200 * 3600))
    return StatementFacts(
        statement_id="s",
        verb_id=VERB + draw(st.sampled_from(["passed", "completed", "attended", "failed"])),
        activity_id=draw(st.sampled_from(ACTIVITIES)),
        institution_key=draw(st.sampled_from(INSTITUTIONS)),
        institution_type=draw(st.sampled_from(TYPES)),
        accredited=draw(st.booleans()),
        scaled=scaled,
        success=draw(st.none() | st.booleans()),
        completion=draw(st.none() | st.booleans()),
        duration_seconds=None if seconds is None else Decimal(seconds),
        timestamp="2024-05-01T00:00:00+08:00",
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=statement_facts(), used=st.integers(min_value=0, max_value=1200))
def test_evaluation_properties(demo, facts, used):
    record = LearnerRecord().with_credit(
        "X-1", Decimal(used) / 100, group="community_senior", year=2024
    )
    first = evaluate_statement(facts, record, demo)
    assert first == evaluate_statement(facts, record, demo)
    assert len(first.trace.rules) == len(demo.recognition.rules)
    assert first.credited >= 0
    for decision in first.decisions:
        unit = demo.unit(decision.unit_code)
        assert unit is not None
        assert 0 < decision.credits <= unit.credits
        assert 0 <= decision.credited <= decision.credits
    if not (facts.accredited and facts.institution_key not in {"shady", "nobody"}):
        assert not first.recognised


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hours=st.decimals(min_value="0.5", max_value=100, places=1),
    per=st.decimals(min_value="0.5", max_value=5, places=2),
    step=st.sampled_from(["0.01", "0.25", "0.5", "1"]),
    unit_credits=st.decimals(min_value="0.01", max_value=10, places=2),
    seconds=st.integers(min_value=0, max_value=500 * 3600),
)
def test_per_hours_never_negative_never_above_unit(
    demo, make_facts, hours, per, step, unit_credits, seconds
):
    standards = with_rule(
        r3_set(demo, str(unit_credits)),
        {"verb_in": [VERB + "attended"]},
        {"kind": "per_hours", "hours": str(hours), "credits": str(per), "step": step},
    )
    facts = make_facts("fxcc", "attended", FIRST_AID, {"duration": f"PT{seconds}S"})
    evaluation = evaluate_statement(facts, LearnerRecord(), standards)
    (trace,) = evaluation.trace.rules
    assert trace.credits is not None
    assert 0 <= trace.credits <= unit_credits
    assert trace.credits % Decimal(step) == 0 or trace.credits == unit_credits
    assert evaluation.recognised == (trace.credits > 0)
