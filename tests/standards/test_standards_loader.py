"""Loading standards sets: the shipped sets validate; errors name file, line and field."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from creditbank.rules.ast import AllOf, Not, ScoreScaledGte
from creditbank.standards.errors import InvalidStandards
from creditbank.standards.loader import load_standards, parse_yaml
from creditbank.standards.schemas import StandardsSet

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "standards" / "demo"
PROVINCIAL = ROOT / "standards" / "hubei-provincial"


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target)
    return target


def edit(directory: Path, file: str, old: str, new: str) -> None:
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(directory: Path, file: str, needle: str) -> int:
    lines = (directory / file).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def only_issue(directory: Path):
    with pytest.raises(InvalidStandards) as caught:
        load_standards(directory)
    assert len(caught.value.issues) == 1, caught.value.issues
    return caught.value.issues[0]


class TestShippedSets:
    def test_demo_validates(self):
        standards = load_standards(DEMO)
        assert standards.meta.id == "demo"
        assert [u.code for u in standards.units.units] == [
            "CERT-ELEC-4", "MOOC-PY-1", "MOOC-DS-1", "COMM-FA-16", "SEN-CAL-1",
            "HBOU-EE-101", "HBOU-CS-101",
        ]  # fmt: skip
        assert [r.id for r in standards.recognition.rules] == ["R1", "R2", "R3"]
        assert [r.id for r in standards.conversion.rules] == ["C1", "C2"]
        assert [i.key for i in standards.institutions.institutions if not i.accredited] == ["shady"]
        assert standards.credits_of("CERT-ELEC-4") == Decimal("6.0")

    def test_provincial_validates_and_is_large(self):
        standards = load_standards(PROVINCIAL)
        assert len(standards.framework.levels) == 10
        assert len(standards.units.units) >= 50
        categories = {unit.category.value for unit in standards.units.units}
        assert categories == {
            "degree_course", "vocational_certificate", "training", "community", "senior", "mooc"
        }  # fmt: skip
        assert len(standards.conversion.rules) >= 10

    def test_numbers_are_decimals_never_floats(self):
        data, _ = parse_yaml("a: 6.0\nb: 0.60\nc: 3\nd: '1.5'\n", "x.yaml")
        assert data == {"a": Decimal("6.0"), "b": Decimal("0.60"), "c": 3, "d": "1.5"}
        assert isinstance(data["b"], Decimal)
        standards = load_standards(DEMO)
        (r1, *_) = standards.recognition.rules
        assert isinstance(r1.when, AllOf)
        score = r1.when.all[-1]
        assert isinstance(score, ScoreScaledGte)
        assert score.score_scaled_gte == Decimal("0.60")


class TestHash:
    def test_stable_and_content_addressed(self, demo_copy):
        first = load_standards(DEMO)
        assert load_standards(demo_copy).content_hash == first.content_hash
        assert len(first.content_hash) == 64
        # formatting and comments do not change the content ...
        edit(demo_copy, "units.yaml", 'credits: "6.0"', "credits: 6.00   # six")
        assert load_standards(demo_copy).content_hash == first.content_hash
        # ... content does
        edit(demo_copy, "units.yaml", "credits: 6.00", 'credits: "6.5"')
        assert load_standards(demo_copy).content_hash != first.content_hash

    def test_round_trip_through_json_keeps_the_hash(self):
        for directory in (DEMO, PROVINCIAL):
            standards = load_standards(directory)
            again = StandardsSet.model_validate(standards.model_dump(mode="json", by_alias=True))
            assert again == standards
            assert again.content_hash == standards.content_hash

    def test_not_survives_the_round_trip(self):
        standards = load_standards(DEMO)
        document = standards.model_dump(mode="json", by_alias=True)
        document["recognition"]["rules"][0]["when"] = {"not": {"success_is": False}}
        rebuilt = StandardsSet.model_validate(document)
        assert isinstance(rebuilt.recognition.rules[0].when, Not)
        dumped = rebuilt.model_dump(mode="json", by_alias=True)
        assert dumped["recognition"]["rules"][0]["when"] == {"not": {"success_is": False}}


class TestErrors:
    def test_bad_credits_name_file_line_and_field(self, demo_copy):
        edit(demo_copy, "units.yaml", 'credits: "2.0"', 'credits: "2.005"')
        issue = only_issue(demo_copy)
        assert issue.file == "units.yaml"
        assert issue.line == line_of(demo_copy, "units.yaml", '"2.005"')
        assert issue.field == "units[1].credits"
        assert "hundredths" in issue.message
        assert str(issue).startswith(f"units.yaml:{issue.line}:")

    def test_nested_condition_error_points_at_the_leaf(self, demo_copy):
        edit(demo_copy, "recognition.yaml", 'score_scaled_gte: "0.60"', 'score_scaled_gte: "1.60"')
        issue = only_issue(demo_copy)
        assert issue.file == "recognition.yaml"
        assert issue.line == line_of(demo_copy, "recognition.yaml", '"1.60"')
        assert issue.field == "rules[0].when.all[4].score_scaled_gte"
        assert "between -1 and 1" in issue.message

    def test_unknown_condition_kind(self, demo_copy):
        edit(demo_copy, "recognition.yaml", "- success_is: true", "- succes_is: true")
        issue = only_issue(demo_copy)
        assert issue.line == line_of(demo_copy, "recognition.yaml", "succes_is")
        assert issue.field == "rules[1].when.all[1]"
        assert "exactly one key" in issue.message

    def test_unknown_key(self, demo_copy):
        edit(demo_copy, "accumulation.yaml", "validity_years: 5", "validity_yaers: 5")
        issue = only_issue(demo_copy)
        assert (issue.file, issue.field) == ("accumulation.yaml", "validity_yaers")
        assert issue.line == line_of(demo_copy, "accumulation.yaml", "validity_yaers")

    def test_missing_field_points_at_its_parent(self, demo_copy):
        edit(demo_copy, "units.yaml", "    nominal_hours: 120\n", "")
        issue = only_issue(demo_copy)
        assert issue.field == "units[0].nominal_hours"
        assert issue.line == line_of(demo_copy, "units.yaml", "CERT-ELEC-4")
        assert "required" in issue.message.lower()

    def test_unknown_unit_in_a_mapping_is_a_cross_reference_error(self, demo_copy):
        edit(demo_copy, "institutions.yaml", "unit: SEN-CAL-1", "unit: SEN-CAL-9")
        issue = only_issue(demo_copy)
        assert issue.file == "institutions.yaml"
        assert issue.field == "institutions[1].mappings[0].unit"
        assert issue.line == line_of(demo_copy, "institutions.yaml", "SEN-CAL-9")
        assert issue.message == "unknown unit SEN-CAL-9"

    def test_conversion_target_outside_the_programme(self, demo_copy):
        edit(demo_copy, "conversion.yaml", "unit: HBOU-CS-101}", "unit: MOOC-DS-1}")
        issue = only_issue(demo_copy)
        assert (issue.file, issue.field) == ("conversion.yaml", "rules[1].target.unit")
        assert "not a unit of programme" in issue.message

    def test_duplicate_key(self, demo_copy):
        edit(demo_copy, "set.yaml", 'version: "2024.1"', 'version: "2024.1"\nversion: "2"')
        issue = only_issue(demo_copy)
        assert (issue.file, issue.field, issue.message) == ("set.yaml", "version", "duplicate key")
        assert issue.line == line_of(demo_copy, "set.yaml", 'version: "2"')

    def test_yaml_syntax_error(self, demo_copy):
        edit(demo_copy, "framework.yaml", "levels:", "levels: [")
        issue = only_issue(demo_copy)
        assert issue.file == "framework.yaml"
        assert issue.line is not None

    def test_missing_file_and_every_issue_reported(self, demo_copy):
        (demo_copy / "conversion.yaml").unlink()
        edit(demo_copy, "units.yaml", "level: 4", "level: 0")
        with pytest.raises(InvalidStandards) as caught:
            load_standards(demo_copy)
        files = sorted(issue.file for issue in caught.value.issues)
        assert files == ["conversion.yaml", "units.yaml"]
        assert caught.value.code == "invalid_standards"
        assert "conversion.yaml" in caught.value.detail

    def test_float_credits_are_refused_in_code(self):
        document = load_standards(DEMO).model_dump(mode="json", by_alias=True)
        document["units"]["units"][0]["credits"] = 6.0
        with pytest.raises(ValueError, match="decimal number"):
            StandardsSet.model_validate(document)

    def test_programmatic_sets_are_cross_checked_too(self):
        document = load_standards(DEMO).model_dump(mode="json", by_alias=True)
        document["units"]["units"][0]["level"] = 11
        with pytest.raises(ValueError, match="level 11 not in framework"):
            StandardsSet.model_validate(document)
