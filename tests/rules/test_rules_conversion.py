"""Conversion options and re-checks: all-of / any-n-of, scores, levels, recency, caps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from creditbank.rules.conversion import OutcomeFacts, check_conversion, conversion_options

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def outcome(oid, unit, scaled=None, *, at=datetime(2025, 6, 1, tzinfo=UTC), **extra):
    return OutcomeFacts(
        outcome_id=oid,
        unit_code=unit,
        credits=Decimal("1.0"),
        scaled=None if scaled is None else Decimal(scaled),
        achieved_at=at,
        **extra,
    )


def rule(standards, rule_id):
    found = standards.conversion.rule(rule_id)
    assert found is not None
    return found


class TestDemo:
    def test_c2_needs_scaled_0_80_inclusive(self, demo):
        c2 = rule(demo, "C2")
        assert check_conversion(
            c2, [outcome("a", "MOOC-PY-1", "0.80")], demo, as_of=AS_OF
        ).satisfied
        below = check_conversion(c2, [outcome("a", "MOOC-PY-1", "0.7999")], demo, as_of=AS_OF)
        assert not below.satisfied
        assert "0.7999 < 0.80" in below.reasons[0].en
        missing = check_conversion(c2, [outcome("a", "MOOC-PY-1")], demo, as_of=AS_OF)
        assert not missing.satisfied

    def test_best_outcome_is_used(self, demo):
        outcomes = [
            outcome("a", "MOOC-PY-1", "0.85"),
            outcome("b", "MOOC-PY-1", "0.95"),
            outcome("c", "MOOC-PY-1", "0.99", available=False),
        ]
        (option,) = conversion_options(outcomes, demo, as_of=AS_OF)
        assert option.outcome_ids == ("b",)

    def test_expired_outcomes_do_not_count(self, demo):
        expired = outcome("a", "CERT-ELEC-4", expires_at=datetime(2026, 1, 1, tzinfo=UTC))
        assert conversion_options([expired], demo, as_of=AS_OF) == []

    def test_exempted_target_is_not_offered_again(self, demo):
        outcomes = [outcome("a", "CERT-ELEC-4")]
        options = conversion_options(
            outcomes, demo, as_of=AS_OF, exempted_units=frozenset({"HBOU-EE-101"})
        )
        assert options == []

    def test_nothing_offered_without_outcomes(self, demo):
        check = check_conversion(rule(demo, "C1"), [], demo, as_of=AS_OF)
        assert not check.satisfied
        assert check.reasons[0].en == "no outcome of unit CERT-ELEC-4"


class TestProvincial:
    def test_any_n_of_picks_n_distinct_units(self, provincial):
        outcomes = [
            outcome("ai", "MOOC-AI-1", "0.70"),
            outcome("web", "MOOC-WEB-1", "0.65"),
            outcome("db", "MOOC-DB-1", "0.90"),
        ]
        check = check_conversion(rule(provincial, "HB-C-CS-05"), outcomes, provincial, as_of=AS_OF)
        assert check.satisfied
        assert check.option is not None
        assert check.option.outcome_ids == ("ai", "web")
        assert check.option.target_kind == "programme_credits"
        assert check.option.credits == Decimal("4.0")

    def test_any_n_of_short_of_n(self, provincial):
        outcomes = [outcome("ai", "MOOC-AI-1", "0.70")]
        check = check_conversion(rule(provincial, "HB-C-CS-05"), outcomes, provincial, as_of=AS_OF)
        assert not check.satisfied
        assert "needs outcomes of 2 unit(s), 1 usable" in check.reasons[-1].en

    def test_all_of_needs_every_unit(self, provincial):
        me03 = rule(provincial, "HB-C-ME-03")
        one = [outcome("c", "MOOC-ELEC-1", "0.9")]
        assert not check_conversion(me03, one, provincial, as_of=AS_OF).satisfied
        both = [*one, outcome("e", "VC-ELEC-3", "0.9")]
        check = check_conversion(me03, both, provincial, as_of=AS_OF)
        assert check.option is not None
        assert check.option.outcome_ids == ("c", "e")
        assert check.option.credits == Decimal("3.0")  # HBOU-ME-104's catalog credits

    def test_recency_limit(self, provincial):
        english = rule(provincial, "HB-C-GE-02")  # within 3 years
        recent = outcome("e", "MOOC-ENG-1", "0.9", at=datetime(2023, 6, 1, tzinfo=UTC))
        old = outcome("e", "MOOC-ENG-1", "0.9", at=datetime(2023, 5, 31, tzinfo=UTC))
        assert check_conversion(english, [recent], provincial, as_of=AS_OF).satisfied
        check = check_conversion(english, [old], provincial, as_of=AS_OF)
        assert not check.satisfied
        assert "older than 3 years" in check.reasons[0].en

    def test_minimum_level(self, provincial):
        csb = rule(provincial, "HB-C-CSB-01")  # min level 5: MOOC-AI-1 and VC-ELEC-5 are 5
        outcomes = [outcome("a", "MOOC-AI-1"), outcome("e", "VC-ELEC-5")]
        assert check_conversion(csb, outcomes, provincial, as_of=AS_OF).satisfied
        document = provincial.model_dump(mode="json", by_alias=True)
        for unit in document["units"]["units"]:
            if unit["code"] == "MOOC-AI-1":
                unit["level"] = 4
        lowered = type(provincial).model_validate(document)
        check = check_conversion(csb, outcomes, lowered, as_of=AS_OF)
        assert not check.satisfied
        assert any("below 5" in r.en for r in check.reasons)

    def test_programme_cap_limits_credits_and_blocks_exemptions(self, provincial):
        outcomes = [outcome("w", "VC-WELD-4")]
        me04 = rule(provincial, "HB-C-ME-04")  # 3.0 programme credits, programme max 20.0
        check = check_conversion(
            me04, outcomes, provincial, as_of=AS_OF,
            converted_credits={"hbou-mechatronics-zk": Decimal("18.5")},
        )  # fmt: skip
        assert check.option is not None
        assert check.option.credits == Decimal("1.5")
        full = check_conversion(
            me04, outcomes, provincial, as_of=AS_OF,
            converted_credits={"hbou-mechatronics-zk": Decimal("20.0")},
        )  # fmt: skip
        assert not full.satisfied
        me01 = rule(provincial, "HB-C-ME-01")  # exemption worth 4.0: all or nothing
        exemption = check_conversion(
            me01, [outcome("e", "VC-ELEC-4")], provincial, as_of=AS_OF,
            converted_credits={"hbou-mechatronics-zk": Decimal("17.0")},
        )  # fmt: skip
        assert not exemption.satisfied

    def test_options_are_deterministic_and_in_file_order(self, provincial):
        outcomes = [
            outcome("py", "MOOC-PY-1", "0.90"),
            outcome("ds", "MOOC-DS-1", "0.85"),
            outcome("e4", "VC-ELEC-4"),
        ]
        first = conversion_options(outcomes, provincial, as_of=AS_OF)
        assert first == conversion_options(list(reversed(outcomes)), provincial, as_of=AS_OF)
        assert [o.rule_id for o in first] == [
            "HB-C-ME-01",
            "HB-C-GE-01",
            "HB-C-CS-01",
            "HB-C-CS-02",
        ]
