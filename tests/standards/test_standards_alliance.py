"""The hubei-alliance set (校际学分互认): equivalences, thresholds, ratios, caps, direction."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from creditbank.rules.conversion import OutcomeFacts, check_conversion, conversion_options
from creditbank.standards.errors import InvalidStandards
from creditbank.standards.loader import load_standards

ALLIANCE = Path(__file__).resolve().parents[2] / "standards" / "hubei-alliance"
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def alliance():
    return load_standards(ALLIANCE)


def outcome(oid, unit, scaled, credits="2.0", **extra):
    return OutcomeFacts(
        outcome_id=oid,
        unit_code=unit,
        credits=Decimal(credits),
        scaled=Decimal(scaled),
        achieved_at=datetime(2026, 1, 10, tzinfo=UTC),
        **extra,
    )


def check(standards, rule_id, outcomes, **kwargs):
    rule = standards.conversion.rule(rule_id)
    assert rule is not None
    return check_conversion(rule, outcomes, standards, as_of=AS_OF, **kwargs)


def test_three_degree_universities_each_with_its_own_catalog(alliance):
    universities = {i.key: i for i in alliance.institutions.institutions}
    assert set(universities) == {"hbnu", "hgnu", "hue"}
    assert {i.type for i in universities.values()} == {"degree"}
    for key, prefix in (("hbnu", "HBNU-"), ("hgnu", "HGNU-"), ("hue", "HUE-")):
        assert universities[key].scope is not None
        assert all(code.startswith(prefix) for code in universities[key].scope.units)


def test_a_course_at_b_exempts_a_course_of_as_programme_above_its_threshold(alliance):
    passed = check(alliance, "AL-HG-HB-EDU", [outcome("o", "HGNU-EDU-110", "0.70", "3.0")])
    assert passed.satisfied
    assert passed.option.target_unit == "HBNU-EDU-101"
    assert passed.option.credits == Decimal("3.00")
    below = check(alliance, "AL-HG-HB-EDU", [outcome("o", "HGNU-EDU-110", "0.6999", "3.0")])
    assert not below.satisfied


def test_a_credit_ratio_scales_credits_exactly_to_the_hundredth(alliance):
    two = check(alliance, "AL-HUE-HB-ICT", [outcome("o", "HUE-ICT-210", "0.90", "2.0")])
    assert two.option.target_kind == "programme_credits"
    assert two.option.credits == Decimal("1.50")
    odd = check(alliance, "AL-HUE-HB-ICT", [outcome("o", "HUE-ICT-210", "0.90", "1.33")])
    assert odd.option.credits == Decimal("0.99")  # 0.9975 rounded down, never up


def test_the_programme_cap_limits_transferred_credits(alliance):
    ict = [outcome("o", "HUE-ICT-210", "0.90")]
    capped = check(alliance, "AL-HUE-HB-ICT", ict, converted_credits={"hbnu-primary-edu-bk": 5})
    assert capped.option.credits == Decimal("1.00")
    full = check(alliance, "AL-HUE-HB-ICT", ict, converted_credits={"hbnu-primary-edu-bk": 6})
    assert not full.satisfied
    exemption = check(
        alliance,
        "AL-HG-HB-EDU",
        [outcome("o", "HGNU-EDU-110", "0.90", "3.0")],
        converted_credits={"hbnu-primary-edu-bk": Decimal("3.5")},
    )
    assert not exemption.satisfied  # an exemption is all or nothing


def test_mutual_and_one_way_rules(alliance):
    # 教育学 is mutual between hbnu and hgnu ...
    to_hgnu = conversion_options(
        [outcome("o", "HBNU-EDU-101", "0.85", "3.0")], alliance, as_of=AS_OF
    )
    assert [(o.rule_id, o.programme, o.target_unit) for o in to_hgnu] == [
        ("AL-HB-HG-EDU", "hgnu-preschool-edu-bk", "HGNU-EDU-110")
    ]
    # ... child psychology at hgnu exempts educational psychology at hbnu, not back.
    forward = conversion_options([outcome("p", "HGNU-PSY-120", "0.80")], alliance, as_of=AS_OF)
    assert [o.rule_id for o in forward] == ["AL-HG-HB-PSY"]
    backward = conversion_options([outcome("q", "HBNU-PSY-102", "0.99")], alliance, as_of=AS_OF)
    assert backward == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ('{kind: programme_credits, ratio: "0"}', "ratio lies above 0"),
        ('{kind: programme_credits, ratio: "0.12345"}', "four decimal places"),
        ('{kind: programme_credits, ratio: "0.75", credits: "1.0"}', "either credits or ratio"),
        ("{kind: programme_credits}", "either credits or ratio"),
    ],
)
def test_a_bad_ratio_is_refused_with_file_line_and_field(tmp_path, target, message):
    copy = tmp_path / "alliance"
    shutil.copytree(ALLIANCE, copy)
    path = copy / "conversion.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('{kind: programme_credits, ratio: "0.75"}', target, 1), encoding="utf-8"
    )
    with pytest.raises(InvalidStandards) as caught:
        load_standards(copy)
    (issue,) = caught.value.issues
    assert str(issue).startswith("conversion.yaml:")
    assert issue.line is not None
    assert "target" in str(issue)
    assert message in str(issue)
