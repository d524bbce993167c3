"""format_statement (exact / ids / canonical) and Accept-Language handling."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from creditbank.lrs.xapi import format_statement, parse_accept_language, validate_statement
from creditbank.lrs.xapi.format import best_language

A = {"objectType": "Agent", "name": "甲", "mbox": "mailto:a@x.cn"}
B = {"name": "乙", "account": {"homePage": "https://uni.example.cn", "name": "b"}}


@pytest.fixture
def stored(typical) -> dict[str, Any]:
    body = validate_statement(typical)
    body["authority"] = {
        "objectType": "Agent",
        "name": "某大学",
        "account": {"homePage": "https://creditbank.example.cn", "name": "uni-1"},
    }
    body["context"]["instructor"] = {"name": "王老师", "mbox": "mailto:wang@uni.example.cn"}
    body["context"]["team"] = {"objectType": "Group", "name": "一班", "member": [A, B]}
    return body


class TestParseAcceptLanguage:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (None, []),
            ("", []),
            ("zh-CN", ["zh-CN"]),
            ("zh-CN,zh;q=0.9,en;q=0.8", ["zh-CN", "zh", "en"]),
            ("en;q=0.5, zh-CN;q=0.9, *;q=0.1", ["zh-CN", "en", "*"]),
            ("fr, de", ["fr", "de"]),
            ("zh;q=0, en", ["en"]),
            ("zh;q=abc, en", ["en"]),
            ("en-US;Q=0.3, ja", ["ja", "en-US"]),
            (" , en ,", ["en"]),
        ],
    )
    def test_parse(self, header, expected):
        assert parse_accept_language(header) == expected


class TestBestLanguage:
    MAP: dict[str, str] = {"en-US": "passed", "zh-CN": "通过", "zh-TW": "通過"}  # noqa: RUF012

    @pytest.mark.parametrize(
        ("languages", "key"),
        [
            (["zh-CN"], "zh-CN"),
            (["zh-cn"], "zh-CN"),
            (["zh-TW", "zh-CN"], "zh-TW"),
            (["zh"], "zh-CN"),
            (["en"], "en-US"),
            (["fr", "zh-TW"], "zh-TW"),
            (["fr"], "en-US"),
            ([], "en-US"),
            (["*"], "en-US"),
            (["zh-Hans-CN"], "zh-CN"),
        ],
    )
    def test_choice(self, languages, key):
        assert best_language(self.MAP, languages) == key

    def test_truncated_range_matches_shorter_tag(self):
        assert best_language({"en": "passed", "zh": "通过"}, ["zh-CN"]) == "zh"

    def test_empty_map(self):
        assert best_language({}, ["zh-CN"]) is None


class TestExact:
    def test_exact_is_an_equal_copy(self, stored):
        out = format_statement(stored, "exact", ["zh-CN"])
        assert out == stored
        assert out is not stored


class TestIds:
    def test_ids(self, stored):
        original = copy.deepcopy(stored)
        out = format_statement(stored, "ids", [])
        assert stored == original
        assert out["actor"] == {
            "objectType": "Agent",
            "account": {"homePage": "https://uni.example.cn", "name": "20230001"},
        }
        assert out["verb"] == {"id": "http://adlnet.gov/expapi/verbs/passed"}
        assert out["object"] == {"id": "https://uni.example.cn/courses/math101/exam"}
        assert out["authority"] == {
            "objectType": "Agent",
            "account": {"homePage": "https://creditbank.example.cn", "name": "uni-1"},
        }
        context = out["context"]
        assert context["instructor"] == {
            "objectType": "Agent",
            "mbox": "mailto:wang@uni.example.cn",
        }
        assert context["team"] == {
            "objectType": "Group",
            "member": [
                {"objectType": "Agent", "mbox": "mailto:a@x.cn"},
                {
                    "objectType": "Agent",
                    "account": {"homePage": "https://uni.example.cn", "name": "b"},
                },
            ],
        }
        assert context["contextActivities"]["parent"] == [
            {"id": "https://uni.example.cn/courses/math101"}
        ]
        assert context["registration"] == stored["context"]["registration"]
        assert out["result"] == stored["result"]
        assert out["timestamp"] == stored["timestamp"]

    def test_identified_group_keeps_only_its_ifi(self, build):
        group = {"objectType": "Group", "name": "一班", "mbox": "mailto:c1@x.cn", "member": [A]}
        out = format_statement(build({"actor": group}), "ids", [])
        assert out["actor"] == {"objectType": "Group", "mbox": "mailto:c1@x.cn"}

    def test_substatement_and_context_agents(self, build):
        sub = {
            "objectType": "SubStatement",
            "actor": A,
            "verb": {
                "id": "http://adlnet.gov/expapi/verbs/completed",
                "display": {"zh-CN": "完成"},
            },
            "object": {"id": "https://x.cn/a", "definition": {"name": {"zh-CN": "甲"}}},
        }
        raw = build(
            {
                "object": sub,
                "context.contextAgents": [{"objectType": "contextAgent", "agent": B}],
            }
        )
        out = format_statement(raw, "ids", [])
        assert out["object"]["actor"] == {"objectType": "Agent", "mbox": "mailto:a@x.cn"}
        assert out["object"]["verb"] == {"id": "http://adlnet.gov/expapi/verbs/completed"}
        assert out["object"]["object"] == {"id": "https://x.cn/a"}
        assert out["context"]["contextAgents"][0]["agent"] == {
            "objectType": "Agent",
            "account": {"homePage": "https://uni.example.cn", "name": "b"},
        }

    def test_statement_ref_is_unchanged(self, build):
        ref = {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"}
        assert format_statement(build({"object": ref}), "ids", [])["object"] == ref


class TestCanonical:
    def test_language_maps_reduced_to_best_language(self, stored):
        original = copy.deepcopy(stored)
        out = format_statement(stored, "canonical", ["zh-CN", "en"])
        assert stored == original
        assert out["verb"]["display"] == {"zh-CN": "通过"}
        assert out["object"]["definition"]["name"] == {"zh-CN": "高等数学期末考试"}
        assert out["object"]["definition"]["type"] == stored["object"]["definition"]["type"]
        assert out["actor"] == stored["actor"]
        assert out["context"]["team"] == stored["context"]["team"]

    def test_english_reader(self, stored):
        out = format_statement(stored, "canonical", ["en-GB", "en"])
        assert out["verb"]["display"] == {"en-US": "passed"}
        assert out["object"]["definition"]["name"] == {"en": "Calculus final exam"}

    def test_interaction_components_and_context_activities(self, build):
        definition = {
            "name": {"en": "Q1", "zh-CN": "第一题"},
            "interactionType": "choice",
            "choices": [{"id": "a", "description": {"en": "A", "zh-CN": "甲"}}],
        }
        raw = build(
            {
                "object.definition": definition,
                "context.contextActivities.parent": [
                    {
                        "id": "https://x.cn/c",
                        "definition": {"description": {"en": "c", "zh-CN": "丙"}},
                    }
                ],
            }
        )
        out = format_statement(raw, "canonical", ["zh"])
        assert out["object"]["definition"]["choices"] == [
            {"id": "a", "description": {"zh-CN": "甲"}}
        ]
        assert out["context"]["contextActivities"]["parent"][0]["definition"]["description"] == {
            "zh-CN": "丙"
        }
        assert out["object"]["definition"]["name"] == {"zh-CN": "第一题"}

    def test_unknown_format(self, stored):
        with pytest.raises(ValueError, match="format"):
            format_statement(stored, "full", [])  # type: ignore[arg-type]
