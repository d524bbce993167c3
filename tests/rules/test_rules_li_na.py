"""The li-na scenario's statements 1–7 against the demo set: exactly the scenario's figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from creditbank.rules.accumulation import AccumulationStatus, LearnerRecord
from creditbank.rules.conversion import OutcomeFacts, check_conversion, conversion_options
from creditbank.rules.engine import Evaluation, evaluate_statement
from creditbank.rules.trace import RuleStatus

FXVS = "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment"
PYTHON = "https://mooc1.example.cn/courses/python"
DS = "https://mooc1.example.cn/courses/data-structures"
FIRST_AID = "https://fxcc.example.edu.cn/courses/first-aid-16h"
CALLIGRAPHY = "https://syu3a.example.edu.cn/courses/calligraphy"
SHADY_DS = "https://shady.example.com/courses/data-structures"

STATEMENTS = [
    ("fxvs", "passed", FXVS, {"score": {"scaled": 0.82}, "success": True}),
    (
        "mooc1",
        "completed",
        PYTHON,
        {"score": {"scaled": 0.91}, "success": True, "completion": True},
    ),
    ("mooc1", "completed", DS, {"score": {"scaled": 0.55}, "success": True, "completion": True}),
    ("fxcc", "attended", FIRST_AID, {"duration": "PT16H"}),
    ("syu3a", "completed", CALLIGRAPHY, {"duration": "PT20H"}),
    ("shady", "completed", SHADY_DS, {"completion": True}),
    (
        "mooc1",
        "completed",
        PYTHON,
        {"score": {"scaled": 0.95}, "success": True, "completion": True},
    ),
]

# (recognised unit or None, rule, credited)
EXPECTED = [
    ("CERT-ELEC-4", "R1", Decimal("6.0")),
    ("MOOC-PY-1", "R2", Decimal("2.0")),
    (None, None, Decimal(0)),
    ("COMM-FA-16", "R3", Decimal("1.0")),
    ("SEN-CAL-1", "R3", Decimal("1.0")),
    (None, None, Decimal(0)),
    ("MOOC-PY-1", "R2", Decimal(0)),
]


def run_scenario(demo, make_facts) -> tuple[list[Evaluation], LearnerRecord]:
    record = LearnerRecord()
    evaluations = []
    for number, (institution, verb, activity, result) in enumerate(STATEMENTS, start=1):
        facts = make_facts(
            institution,
            verb,
            activity,
            result,
            statement_id=f"00000000-0000-4000-8000-00000000000{number}",
            timestamp=f"2024-03-0{number}T10:00:00+08:00",
        )
        evaluation = evaluate_statement(facts, record, demo)
        record = evaluation.record_after(record)
        evaluations.append(evaluation)
    return evaluations, record


def test_statements_1_to_7_give_the_scenario_figures(demo, make_facts):
    evaluations, record = run_scenario(demo, make_facts)
    for evaluation, (unit, rule, credited) in zip(evaluations, EXPECTED, strict=True):
        assert evaluation.credited == credited
        if unit is None:
            assert not evaluation.recognised
            assert evaluation.decisions == ()
        else:
            (decision,) = evaluation.decisions
            assert (decision.unit_code, decision.rule_id, decision.rule_version) == (unit, rule, 1)
            assert decision.standards == demo.ref
    banked = sum((e.credited for e in evaluations), Decimal(0))
    assert banked == Decimal("10.0")
    assert record.credited_units == {"CERT-ELEC-4", "MOOC-PY-1", "COMM-FA-16", "SEN-CAL-1"}
    assert record.used("mooc", 2024) == Decimal("2.0")
    assert record.used("community_senior", 2024) == Decimal("2.0")


def test_each_statement_explains_itself(demo, make_facts):
    evaluations, _ = run_scenario(demo, make_facts)
    # 3: below the threshold, said leaf by leaf
    third = evaluations[2]
    r2 = next(t for t in third.trace.rules if t.rule_id == "R2")
    assert r2.status is RuleStatus.not_matched
    score = next(leaf for leaf in r2.condition.leaves() if leaf.kind == "score_scaled_gte")
    assert not score.passed
    assert score.message.en == "score.scaled 0.55 < 0.60"
    assert "0.55 < 0.60" in third.reason.en
    # 5: R3 rounding shown
    fifth = evaluations[4]
    r3 = next(t for t in fifth.trace.rules if t.rule_id == "R3")
    assert r3.credits == Decimal("1.0")
    assert r3.credits_message is not None
    assert "1.25" in r3.credits_message.en
    # 6: not accredited
    sixth = evaluations[5]
    accreditation = next(g for g in sixth.trace.gates if g.gate == "institution_accredited")
    assert not accreditation.passed
    assert sixth.reason.en == "not recognised: institution shady is not accredited"
    assert "未" in sixth.reason.zh
    # 7: recognised, but the unit is already credited
    (decision,) = evaluations[6].decisions
    assert decision.accumulation.status is AccumulationStatus.refused
    assert "already credited" in decision.accumulation.reasons[0].en
    # validity: five years from the statement's timestamp
    (first,) = evaluations[0].decisions
    assert first.accumulation.expires_at == datetime.fromisoformat("2029-03-01T10:00:00+08:00")


def test_every_rule_appears_in_every_trace(demo, make_facts):
    evaluations, _ = run_scenario(demo, make_facts)
    for evaluation in evaluations:
        assert [t.rule_id for t in evaluation.trace.rules] == ["R1", "R2", "R3"]


def test_dry_run_offers_c1_and_c2_and_spent_outcomes_are_refused(demo, make_facts):
    evaluations, _ = run_scenario(demo, make_facts)
    outcomes = [
        OutcomeFacts(
            outcome_id=f"o{i}",
            unit_code=d.unit_code,
            credits=d.credited,
            scaled=e.facts.scaled,
            achieved_at=d.achieved_at,
            expires_at=d.accumulation.expires_at,
        )
        for i, e in enumerate(evaluations, start=1)
        for d in e.decisions
        if d.credited > 0
    ]
    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    options = conversion_options(outcomes, demo, as_of=as_of)
    assert [(o.rule_id, o.target_unit, o.credits, o.outcome_ids) for o in options] == [
        ("C1", "HBOU-EE-101", Decimal("4.0"), ("o1",)),
        ("C2", "HBOU-CS-101", Decimal("2.0"), ("o2",)),
    ]
    assert all(o.requires_approval for o in options)
    assert sum((o.credits for o in options), Decimal(0)) == Decimal("6.0")

    # After C1 and C2 are approved, their outcomes are spent: a second C1 is refused.
    spent = [o.model_copy(update={"available": o.outcome_id not in {"o1", "o2"}}) for o in outcomes]
    c1 = demo.conversion.rule("C1")
    assert c1 is not None
    check = check_conversion(
        c1, spent, demo, as_of=as_of, exempted_units=frozenset({"HBOU-EE-101", "HBOU-CS-101"})
    )
    assert not check.satisfied
    assert check.option is None
    assert any("used or revoked" in r.en for r in check.reasons)
    available = sum((o.credits for o in spent if o.available), Decimal(0))
    assert available == Decimal("2.0")


def test_lrs_test_iris_are_recognised_the_same_way(demo, make_facts):
    facts = make_facts(
        "mooc1",
        "completed",
        "https://mooc1.example.cn/xapi/activities/python-101",
        {"score": {"scaled": 0.91}, "success": True},
    )
    evaluation = evaluate_statement(facts, LearnerRecord(), demo)
    assert evaluation.unit_code == "MOOC-PY-1"
    assert evaluation.credited == Decimal("2.0")
