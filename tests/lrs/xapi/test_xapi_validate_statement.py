"""validate_statement: the xAPI 1.0.3 statement data model, one case per MUST rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from creditbank.lrs.xapi import XAPIValidationError, validate_statement

DELETE = "<delete>"
MBOX_AGENT = {"objectType": "Agent", "mbox": "mailto:li.na@example.cn"}
OTHER_AGENT = {"mbox": "mailto:wang.wei@example.cn"}
SHA1 = "1c8c6e3d0a0c5a3fbd9d1e0ad3a6c21f9a0e3b7d"
SHA256 = "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c634"
ACT = "https://uni.example.cn/courses/math101/exam"


def _error(raw: Any, **kwargs: Any) -> XAPIValidationError:
    with pytest.raises(XAPIValidationError) as info:
        validate_statement(raw, **kwargs)
    return info.value


class TestValidStatements:
    def test_typical_statement_is_valid_and_returned_as_a_copy(self, typical):
        original = copy.deepcopy(typical)
        out = validate_statement(typical)
        assert typical == original
        assert out is not typical
        assert out["actor"] is not typical["actor"]
        assert out["verb"]["display"] == {"zh-CN": "通过", "en-US": "passed"}
        assert out["object"]["definition"]["name"]["zh-CN"] == "高等数学期末考试"

    def test_context_activities_are_normalised_to_arrays(self, typical):
        out = validate_statement(typical)
        activities = out["context"]["contextActivities"]
        assert activities["category"] == [
            {"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}
        ]
        assert activities["parent"] == [{"id": "https://uni.example.cn/courses/math101"}]
        assert typical["context"]["contextActivities"]["category"] == {
            "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"
        }

    def test_nothing_but_context_activities_changes(self, typical):
        out = validate_statement(typical)
        out["context"]["contextActivities"]["category"] = typical["context"]["contextActivities"][
            "category"
        ]
        assert out == typical

    def test_extensions_are_deep_copied_and_may_hold_null(self, build):
        ext = {"https://w3id.org/xapi/cb/credits": {"hours": [1, None, {"a": True}]}}
        raw = build({"result.extensions": ext})
        out = validate_statement(raw)
        assert out["result"]["extensions"] == ext
        out["result"]["extensions"]["https://w3id.org/xapi/cb/credits"]["hours"].append(2)
        assert raw["result"]["extensions"] == ext

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({"id": DELETE, "timestamp": DELETE}, id="minimal-without-id"),
            pytest.param({"actor": MBOX_AGENT}, id="mbox-agent"),
            pytest.param({"actor": {"mbox": "mailto:Li.Na@Example.CN"}}, id="agent-no-objectType"),
            pytest.param({"actor": {"mbox_sha1sum": SHA1}}, id="mbox_sha1sum"),
            pytest.param({"actor": {"mbox_sha1sum": SHA1.upper()}}, id="mbox_sha1sum-uppercase"),
            pytest.param({"actor": {"openid": "https://openid.example.cn/li"}}, id="openid"),
            pytest.param(
                {"actor": {"objectType": "Group", "member": [MBOX_AGENT, OTHER_AGENT]}},
                id="anonymous-group",
            ),
            pytest.param(
                {"actor": {"objectType": "Group", "name": "数学一班", "mbox": "mailto:c1@x.cn"}},
                id="identified-group-without-members",
            ),
            pytest.param(
                {
                    "actor": {
                        "objectType": "Group",
                        "account": {"homePage": "https://uni.example.cn", "name": "class-1"},
                        "member": [MBOX_AGENT],
                    }
                },
                id="identified-group-with-members",
            ),
            pytest.param(
                {"verb": {"id": "urn:x-creditbank:verb:earned"}}, id="verb-without-display"
            ),
            pytest.param({"verb.display": {}}, id="empty-display"),
            pytest.param({"object": {"id": ACT}}, id="activity-without-objectType"),
            pytest.param({"object": MBOX_AGENT}, id="agent-object"),
            pytest.param(
                {"object": {"objectType": "Group", "member": [MBOX_AGENT]}}, id="group-object"
            ),
            pytest.param(
                {
                    "object": {
                        "objectType": "StatementRef",
                        "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
                    },
                    "context.revision": DELETE,
                },
                id="statement-ref",
            ),
            pytest.param(
                {
                    "object": {
                        "objectType": "StatementRef",
                        "id": "8F87CCDE-BB56-4C2E-AB83-44982EF22DF0",
                    }
                },
                id="statement-ref-uppercase-uuid",
            ),
            pytest.param(
                {"object.definition.moreInfo": "https://uni.example.cn/课程/math101"},
                id="irl-with-unicode",
            ),
            pytest.param({"result": {}}, id="empty-result"),
            pytest.param({"result.score": {"raw": -5}}, id="raw-without-bounds"),
            pytest.param({"result.score": {"min": 5, "max": 5, "raw": 5}}, id="min-equals-max"),
            pytest.param({"result.score": {"scaled": -1}}, id="scaled-minus-one"),
            pytest.param({"result.score": {"scaled": 1.0}}, id="scaled-one"),
            pytest.param({"result.response": "中文回答"}, id="response"),
            pytest.param({"result.completion": False}, id="completion-false"),
            pytest.param({"result.duration": "P4W"}, id="duration-weeks"),
            pytest.param({"context.language": "zh-Hans-CN"}, id="context-language-script"),
            pytest.param({"context.revision": "v2", "context.platform": "Moodle"}, id="revision"),
            pytest.param(
                {"context.instructor": {"objectType": "Group", "member": [MBOX_AGENT]}},
                id="instructor-group",
            ),
            pytest.param(
                {"context.team": {"objectType": "Group", "mbox": "mailto:team@x.cn"}}, id="team"
            ),
            pytest.param(
                {
                    "context.statement": {
                        "objectType": "StatementRef",
                        "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
                    }
                },
                id="context-statement",
            ),
            pytest.param({"context.contextActivities.other": []}, id="empty-context-array"),
            pytest.param({"timestamp": "2024-06-30T01:15:00Z"}, id="timestamp-z"),
            pytest.param({"timestamp": "20240630T011500Z"}, id="timestamp-iso-basic"),
            pytest.param({"timestamp": "2024-06-30T09:15:00.123456789+08:00"}, id="ns-precision"),
            pytest.param({"stored": "2024-06-30T01:15:00.000Z"}, id="stored"),
            pytest.param({"version": "1.0.0"}, id="version-1.0.0"),
            pytest.param({"version": "1.0.3"}, id="version-1.0.3"),
            pytest.param({"version": "1.0"}, id="version-1.0-two-parts"),
            pytest.param({"authority": MBOX_AGENT}, id="authority-agent"),
            pytest.param(
                {
                    "authority": {
                        "objectType": "Group",
                        "member": [
                            {
                                "account": {
                                    "homePage": "http://example.com/xAPI/OAuth/Token",
                                    "name": "oauth_consumer_x75db",
                                }
                            },
                            {"mbox": "mailto:bob@example.com"},
                        ],
                    }
                },
                id="authority-oauth-group",
            ),
        ],
    )
    def test_valid(self, build, changes):
        raw = build(changes)
        out = validate_statement(raw)
        assert out["verb"] == raw["verb"]


# (changes applied to the typical statement, expected error path)
INVALID: list[Any] = [
    # statement level
    pytest.param({"actor": DELETE}, "$.actor", id="actor-required"),
    pytest.param({"verb": DELETE}, "$.verb", id="verb-required"),
    pytest.param({"object": DELETE}, "$.object", id="object-required"),
    pytest.param({"objectType": "Statement"}, "$.objectType", id="statement-objectType"),
    pytest.param({"Actor": MBOX_AGENT}, "$.Actor", id="key-case-matters"),
    pytest.param({"extra": 1}, "$.extra", id="unknown-top-level"),
    pytest.param({"id": None}, "$.id", id="null-id"),
    pytest.param({"id": ""}, "$.id", id="empty-id"),
    pytest.param({"id": "d1b0c5a83c8e4f6a9d2b7e5f1a2b3c4d"}, "$.id", id="uuid-no-hyphens"),
    pytest.param({"id": "d1b0c5a8-3c8e-4f6a-cd2b-7e5f1a2b3c4d"}, "$.id", id="uuid-bad-variant"),
    pytest.param({"id": "{d1b0c5a8-3c8e-4f6a-9d2b-7e5f1a2b3c4d}"}, "$.id", id="uuid-braces"),
    pytest.param({"id": 12}, "$.id", id="id-number"),
    pytest.param(
        {"verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}},
        "$.object.objectType",
        id="voiding-object-must-be-statement-ref",
    ),
    # actor / agent
    pytest.param({"actor": "li.na"}, "$.actor", id="actor-string"),
    pytest.param({"actor": {"objectType": "Agent"}}, "$.actor", id="agent-no-ifi"),
    pytest.param(
        {"actor": {"mbox": "mailto:a@x.cn", "openid": "https://o.x.cn/a"}},
        "$.actor",
        id="agent-two-ifis",
    ),
    pytest.param({"actor.objectType": "agent"}, "$.actor.objectType", id="objectType-case"),
    pytest.param({"actor.objectType": "Person"}, "$.actor.objectType", id="objectType-unknown"),
    pytest.param({"actor.name": 7}, "$.actor.name", id="agent-name-number"),
    pytest.param({"actor.name": None}, "$.actor.name", id="agent-name-null"),
    pytest.param({"actor.age": 20}, "$.actor.age", id="agent-unknown-property"),
    pytest.param({"actor": {"mbox": "li.na@example.cn"}}, "$.actor.mbox", id="mbox-not-mailto"),
    pytest.param({"actor": {"mbox": "mailto:li.na"}}, "$.actor.mbox", id="mbox-no-at"),
    pytest.param({"actor": {"mbox": "http://x.cn/a"}}, "$.actor.mbox", id="mbox-http"),
    pytest.param({"actor": {"mbox_sha1sum": "abc"}}, "$.actor.mbox_sha1sum", id="sha1-short"),
    pytest.param({"actor": {"mbox_sha1sum": "z" * 40}}, "$.actor.mbox_sha1sum", id="sha1-not-hex"),
    pytest.param(
        {"actor": {"openid": "openid.example.cn"}}, "$.actor.openid", id="openid-no-scheme"
    ),
    pytest.param({"actor.account.homePage": DELETE}, "$.actor.account.homePage", id="no-homePage"),
    pytest.param({"actor.account.name": DELETE}, "$.actor.account.name", id="account-no-name"),
    pytest.param({"actor.account.name": 20230001}, "$.actor.account.name", id="account-name-int"),
    pytest.param(
        {"actor.account.homePage": "uni.example.cn"},
        "$.actor.account.homePage",
        id="homePage-no-scheme",
    ),
    pytest.param({"actor.account.id": "x"}, "$.actor.account.id", id="account-extra"),
    pytest.param({"actor.account": "uni:1"}, "$.actor.account", id="account-string"),
    # groups
    pytest.param({"actor": {"objectType": "Group"}}, "$.actor.member", id="anon-group-no-member"),
    pytest.param(
        {"actor": {"objectType": "Group", "member": []}}, "$.actor.member", id="anon-group-empty"
    ),
    pytest.param(
        {"actor": {"member": [MBOX_AGENT]}}, "$.actor.member", id="group-without-objectType"
    ),
    pytest.param(
        {
            "actor": {
                "objectType": "Group",
                "member": [{"objectType": "Group", "mbox": "mailto:g@x.cn"}],
            }
        },
        "$.actor.member[0].objectType",
        id="group-in-anonymous-group",
    ),
    pytest.param(
        {
            "actor": {
                "objectType": "Group",
                "mbox": "mailto:g@x.cn",
                "member": [MBOX_AGENT, {"objectType": "Group", "member": [MBOX_AGENT]}],
            }
        },
        "$.actor.member[1].objectType",
        id="group-in-identified-group",
    ),
    pytest.param(
        {"actor": {"objectType": "Group", "member": [MBOX_AGENT, {"name": "无标识"}]}},
        "$.actor.member[1]",
        id="member-without-ifi",
    ),
    pytest.param(
        {
            "actor": {
                "objectType": "Group",
                "mbox": "mailto:g@x.cn",
                "openid": "https://o.x.cn/g",
            }
        },
        "$.actor",
        id="group-two-ifis",
    ),
    pytest.param(
        {"actor": {"objectType": "Group", "member": MBOX_AGENT}},
        "$.actor.member",
        id="member-not-array",
    ),
    # verb
    pytest.param({"verb.id": DELETE}, "$.verb.id", id="verb-id-required"),
    pytest.param({"verb.id": "passed"}, "$.verb.id", id="verb-id-no-scheme"),
    pytest.param({"verb.id": ""}, "$.verb.id", id="verb-id-empty"),
    pytest.param({"verb.id": "http://x.cn/has space"}, "$.verb.id", id="verb-id-space"),
    pytest.param({"verb.id": "http://x.cn/%zz"}, "$.verb.id", id="verb-id-bad-percent"),
    pytest.param({"verb.display": "通过"}, "$.verb.display", id="display-not-map"),
    pytest.param({"verb.display": {"zh_CN": "通过"}}, "$.verb.display.zh_CN", id="bad-lang-tag"),
    pytest.param({"verb.display": {"zh-CN": 1}}, "$.verb.display.zh-CN", id="lang-value-number"),
    pytest.param({"verb.display": {"zh-CN": None}}, "$.verb.display.zh-CN", id="lang-value-null"),
    pytest.param({"verb.name": "x"}, "$.verb.name", id="verb-unknown-property"),
    # activity
    pytest.param({"object.id": DELETE}, "$.object.id", id="activity-id-required"),
    pytest.param({"object.id": "exam-1"}, "$.object.id", id="activity-id-no-scheme"),
    pytest.param({"object.objectType": "activity"}, "$.object.objectType", id="activity-case"),
    pytest.param({"object.objectType": "Course"}, "$.object.objectType", id="object-type-unknown"),
    pytest.param({"object.definition": []}, "$.object.definition", id="definition-array"),
    pytest.param(
        {"object.definition.name": {"zh-CN": "考试", "en_US": "exam"}},
        "$.object.definition.name.en_US",
        id="definition-name-tag",
    ),
    pytest.param(
        {"object.definition.description": "考试"},
        "$.object.definition.description",
        id="description-not-map",
    ),
    pytest.param({"object.definition.type": "assessment"}, "$.object.definition.type", id="type"),
    pytest.param(
        {"object.definition.moreInfo": "/courses/1"}, "$.object.definition.moreInfo", id="moreInfo"
    ),
    pytest.param({"object.definition.credits": 2}, "$.object.definition.credits", id="def-extra"),
    pytest.param(
        {"object.definition.extensions": {"credits": 2}},
        '$.object.definition.extensions["credits"]',
        id="extension-key-not-iri",
    ),
    pytest.param(
        {"object.definition.extensions": ["x"]},
        "$.object.definition.extensions",
        id="extensions-array",
    ),
    pytest.param({"object.name": "x"}, "$.object.name", id="activity-unknown-property"),
    # agent/group/statement-ref objects
    pytest.param(
        {"object": {"mbox": "mailto:a@x.cn"}}, "$.object.id", id="agent-object-no-objectType"
    ),
    pytest.param({"object": {"objectType": "Agent"}}, "$.object", id="agent-object-no-ifi"),
    pytest.param(
        {"object": {"objectType": "StatementRef"}}, "$.object.id", id="statement-ref-no-id"
    ),
    pytest.param(
        {"object": {"objectType": "StatementRef", "id": "not-a-uuid"}},
        "$.object.id",
        id="statement-ref-bad-id",
    ),
    pytest.param(
        {
            "object": {
                "objectType": "StatementRef",
                "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
                "definition": {},
            }
        },
        "$.object.definition",
        id="statement-ref-extra",
    ),
    # result
    pytest.param({"result": "passed"}, "$.result", id="result-string"),
    pytest.param({"result.success": "true"}, "$.result.success", id="success-string"),
    pytest.param({"result.success": 1}, "$.result.success", id="success-number"),
    pytest.param({"result.completion": None}, "$.result.completion", id="completion-null"),
    pytest.param({"result.response": 42}, "$.result.response", id="response-number"),
    pytest.param({"result.duration": "90 minutes"}, "$.result.duration", id="duration-text"),
    pytest.param({"result.duration": 5400}, "$.result.duration", id="duration-number"),
    pytest.param({"result.duration": "P4W1D"}, "$.result.duration", id="duration-weeks-mixed"),
    pytest.param(
        {"result.duration": "P0000-00-00T01:30:00"}, "$.result.duration", id="duration-alt-format"
    ),
    pytest.param({"result.grade": "A"}, "$.result.grade", id="result-unknown-property"),
    pytest.param({"result.score.scaled": 1.01}, "$.result.score.scaled", id="scaled-above-1"),
    pytest.param({"result.score.scaled": -1.5}, "$.result.score.scaled", id="scaled-below-minus-1"),
    pytest.param({"result.score.scaled": "0.86"}, "$.result.score.scaled", id="scaled-string"),
    pytest.param({"result.score.raw": True}, "$.result.score.raw", id="raw-boolean"),
    pytest.param({"result.score.raw": 101}, "$.result.score.raw", id="raw-above-max"),
    pytest.param({"result.score.raw": -1}, "$.result.score.raw", id="raw-below-min"),
    pytest.param({"result.score": {"min": 10, "max": 5}}, "$.result.score.min", id="min-above-max"),
    pytest.param({"result.score.percent": 86}, "$.result.score.percent", id="score-extra"),
    pytest.param({"result.score.max": None}, "$.result.score.max", id="max-null"),
    # context
    pytest.param({"context": []}, "$.context", id="context-array"),
    pytest.param({"context.registration": "1"}, "$.context.registration", id="registration"),
    pytest.param(
        {"context.instructor": {"name": "王老师"}}, "$.context.instructor", id="instructor-no-ifi"
    ),
    pytest.param(
        {"context.team": MBOX_AGENT}, "$.context.team.objectType", id="team-must-be-group"
    ),
    pytest.param(
        {"context.contextActivities.parent": "https://x.cn/c"},
        "$.context.contextActivities.parent",
        id="context-activity-string",
    ),
    pytest.param(
        {"context.contextActivities.parent": [{"id": "course-1"}]},
        "$.context.contextActivities.parent[0].id",
        id="context-activity-bad-id",
    ),
    pytest.param(
        {"context.contextActivities.category": {"id": "https://x.cn/a", "objectType": "Agent"}},
        "$.context.contextActivities.category.objectType",
        id="context-activity-agent",
    ),
    pytest.param(
        {"context.contextActivities.related": []},
        "$.context.contextActivities.related",
        id="context-type-unknown",
    ),
    pytest.param({"context.language": "zh_CN"}, "$.context.language", id="language-bad-tag"),
    pytest.param({"context.language": ""}, "$.context.language", id="language-empty"),
    pytest.param({"context.revision": 2}, "$.context.revision", id="revision-number"),
    pytest.param(
        {"object": MBOX_AGENT, "context.revision": "v2"},
        "$.context.revision",
        id="revision-with-agent-object",
    ),
    pytest.param(
        {
            "object": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
            "context.platform": "Moodle",
        },
        "$.context.platform",
        id="platform-with-statement-ref",
    ),
    pytest.param(
        {"context.statement": {"id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"}},
        "$.context.statement.objectType",
        id="context-statement-needs-objectType",
    ),
    pytest.param(
        {"context.contextAgents": []}, "$.context.contextAgents", id="contextAgents-in-1.0.3"
    ),
    pytest.param(
        {"context.contextGroups": []}, "$.context.contextGroups", id="contextGroups-in-1.0.3"
    ),
    pytest.param({"context.location": "北京"}, "$.context.location", id="context-extra"),
    # timestamp, stored, version, authority
    pytest.param({"timestamp": "2024-06-30T09:15:00"}, "$.timestamp", id="timestamp-no-tz"),
    pytest.param({"timestamp": "2024-06-30"}, "$.timestamp", id="timestamp-date-only"),
    pytest.param({"timestamp": "2024-13-01T00:00:00Z"}, "$.timestamp", id="timestamp-month-13"),
    pytest.param({"timestamp": "2023-02-29T00:00:00Z"}, "$.timestamp", id="timestamp-feb-29"),
    pytest.param({"timestamp": "2024-06-30T25:00:00Z"}, "$.timestamp", id="timestamp-hour-25"),
    pytest.param({"timestamp": "2024-06-30T09:15:00+25:00"}, "$.timestamp", id="tz-out-of-range"),
    pytest.param({"timestamp": "2024-06-30T09:15:00-00:00"}, "$.timestamp", id="tz-minus-zero"),
    pytest.param({"timestamp": "yesterday"}, "$.timestamp", id="timestamp-text"),
    pytest.param({"timestamp": 1719710100}, "$.timestamp", id="timestamp-epoch"),
    pytest.param({"stored": "2024-06-30"}, "$.stored", id="stored-date-only"),
    pytest.param({"version": "2.0.0"}, "$.version", id="version-2.0.0-in-1.0.3"),
    pytest.param({"version": "1.1.0"}, "$.version", id="version-1.1.0"),
    pytest.param(
        {
            "authority": {
                "objectType": "Group",
                "mbox": "mailto:oauth@x.cn",
                "member": [MBOX_AGENT, {"mbox": "mailto:app@x.cn"}],
            }
        },
        "$.authority",
        id="authority-identified-group",
    ),
    pytest.param({"version": "0.95"}, "$.version", id="version-0.95"),
    pytest.param({"version": 1.0}, "$.version", id="version-number"),
    pytest.param({"authority": {"name": "x"}}, "$.authority", id="authority-no-ifi"),
    pytest.param(
        {"authority": {"objectType": "Group", "member": [MBOX_AGENT]}},
        "$.authority.member",
        id="authority-group-one-member",
    ),
    pytest.param(
        {"authority": {"objectType": "Group", "member": [MBOX_AGENT, OTHER_AGENT, OTHER_AGENT]}},
        "$.authority.member",
        id="authority-group-three-members",
    ),
]


@pytest.mark.parametrize(("changes", "path"), INVALID)
def test_invalid_statement_is_rejected_at_path(build, changes, path):
    error = _error(build(changes))
    assert error.path == path, str(error)
    assert str(error).startswith(f"{path}: ")


class TestObjectTypes:
    def test_agent_object_requires_object_type(self, build):
        """An Agent as object without objectType is read as an Activity and fails."""
        agent = {"mbox": "mailto:li.na@example.cn"}
        assert _error(build({"object": agent})).path == "$.object.id"

    def test_errors_are_value_errors(self, build):
        assert isinstance(_error(build({"verb": DELETE})), ValueError)

    @pytest.mark.parametrize("raw", [None, [], "statement", 1, True])
    def test_statement_must_be_an_object(self, raw):
        assert _error(raw).path == "$"

    def test_custom_root_path_for_batches(self, build):
        error = _error(build({"actor.mbox": "x"}), path="$[3]")
        assert error.path == "$[3].actor.mbox"
        error = _error(build({"verb.display": {"zh-CN": "通过", "??": "x"}}), path="$[3]")
        assert error.path == "$[3].verb.display.??"


class TestSubStatement:
    SUB: dict[str, Any] = {  # noqa: RUF012
        "objectType": "SubStatement",
        "actor": MBOX_AGENT,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"zh-CN": "完成"}},
        "object": {"id": ACT},
        "timestamp": "2030-01-01T00:00:00Z",
    }

    def test_substatement_object_is_valid(self, build):
        out = validate_statement(build({"object": self.SUB}))
        assert out["object"]["objectType"] == "SubStatement"

    def test_validate_substatement_directly(self):
        assert validate_statement(self.SUB, substatement=True) == self.SUB

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("id", "8f87ccde-bb56-4c2e-ab83-44982ef22df0"),
            ("stored", "2024-06-30T01:15:00Z"),
            ("version", "1.0.0"),
            ("authority", MBOX_AGENT),
        ],
    )
    def test_substatement_must_not_have_lrs_properties(self, build, key, value):
        error = _error(build({"object": self.SUB | {key: value}}))
        assert error.path == f"$.object.{key}"

    def test_voiding_statement_with_statement_ref(self, build):
        ref = {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"}
        raw = build({"verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}, "object": ref})
        assert validate_statement(raw)["object"] == ref

    def test_substatement_cannot_be_nested(self, build):
        nested = self.SUB | {"object": self.SUB}
        assert _error(build({"object": nested})).path == "$.object.object.objectType"

    def test_substatement_is_validated_as_a_statement(self, build):
        bad = self.SUB | {"verb": {"id": "completed"}}
        assert _error(build({"object": bad})).path == "$.object.verb.id"

    def test_substatement_requires_actor(self, build):
        bad = {k: v for k, v in self.SUB.items() if k != "actor"}
        assert _error(build({"object": bad})).path == "$.object.actor"

    def test_substatement_context_revision_follows_its_own_object(self, build):
        bad = self.SUB | {"object": MBOX_AGENT, "context": {"revision": "1"}}
        assert _error(build({"object": bad})).path == "$.object.context.revision"

    def test_direct_substatement_needs_object_type(self):
        raw = {k: v for k, v in self.SUB.items() if k != "objectType"}
        assert _error(raw, substatement=True).path == "$.objectType"


class TestInteractions:
    def _with_definition(self, build, definition: dict[str, Any]) -> Any:
        return build(
            {
                "object.definition": {
                    "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                    **definition,
                }
            }
        )

    @pytest.mark.parametrize(
        "definition",
        [
            {"interactionType": "true-false", "correctResponsesPattern": ["true"]},
            {
                "interactionType": "choice",
                "correctResponsesPattern": ["golf[,]tetris"],
                "choices": [
                    {"id": "golf", "description": {"zh-CN": "高尔夫", "en-US": "Golf"}},
                    {"id": "tetris", "description": {"en-US": "Tetris"}},
                ],
            },
            {"interactionType": "fill-in", "correctResponsesPattern": ["{case_matters=false}x"]},
            {"interactionType": "long-fill-in", "correctResponsesPattern": []},
            {
                "interactionType": "likert",
                "scale": [{"id": "likert_0"}, {"id": "likert_1"}],
                "correctResponsesPattern": ["likert_1"],
            },
            {
                "interactionType": "matching",
                "source": [{"id": "ben"}],
                "target": [{"id": "3"}],
                "correctResponsesPattern": ["ben[.]3"],
            },
            {
                "interactionType": "performance",
                "steps": [{"id": "pong"}],
                "correctResponsesPattern": ["pong[.]1:[,]dg[.]:10"],
            },
            {"interactionType": "sequencing", "choices": [{"id": "a"}, {"id": "b"}]},
            {"interactionType": "numeric", "correctResponsesPattern": ["4[:]"]},
            {"interactionType": "other", "correctResponsesPattern": ["(35.937432,-86.868896)"]},
        ],
        ids=lambda d: d["interactionType"],
    )
    def test_valid_interactions(self, build, definition):
        out = validate_statement(self._with_definition(build, definition))
        assert out["object"]["definition"]["interactionType"] == definition["interactionType"]

    @pytest.mark.parametrize(
        ("definition", "path"),
        [
            pytest.param(
                {"correctResponsesPattern": ["true"]},
                "$.object.definition.interactionType",
                id="pattern-without-interactionType",
            ),
            pytest.param(
                {"choices": [{"id": "a"}]},
                "$.object.definition.interactionType",
                id="choices-without-interactionType",
            ),
            pytest.param(
                {"interactionType": "multiple-choice"},
                "$.object.definition.interactionType",
                id="unknown-interactionType",
            ),
            pytest.param(
                {"interactionType": "Choice"},
                "$.object.definition.interactionType",
                id="interactionType-case",
            ),
            pytest.param(
                {"interactionType": "true-false", "correctResponsesPattern": "true"},
                "$.object.definition.correctResponsesPattern",
                id="pattern-not-array",
            ),
            pytest.param(
                {"interactionType": "true-false", "correctResponsesPattern": [True]},
                "$.object.definition.correctResponsesPattern[0]",
                id="pattern-boolean",
            ),
            pytest.param(
                {"interactionType": "true-false", "choices": [{"id": "a"}]},
                "$.object.definition.choices",
                id="choices-on-true-false",
            ),
            pytest.param(
                {"interactionType": "choice", "scale": [{"id": "a"}]},
                "$.object.definition.scale",
                id="scale-on-choice",
            ),
            pytest.param(
                {"interactionType": "likert", "steps": [{"id": "a"}]},
                "$.object.definition.steps",
                id="steps-on-likert",
            ),
            pytest.param(
                {"interactionType": "choice", "choices": [{"id": "a"}, {"id": "a"}]},
                "$.object.definition.choices[1].id",
                id="duplicate-component-id",
            ),
            pytest.param(
                {"interactionType": "choice", "choices": [{"description": {"en": "a"}}]},
                "$.object.definition.choices[0].id",
                id="component-without-id",
            ),
            pytest.param(
                {"interactionType": "choice", "choices": [{"id": 1}]},
                "$.object.definition.choices[0].id",
                id="component-id-number",
            ),
            pytest.param(
                {"interactionType": "choice", "choices": [{"id": "a", "description": "A"}]},
                "$.object.definition.choices[0].description",
                id="component-description-not-map",
            ),
            pytest.param(
                {"interactionType": "choice", "choices": [{"id": "a", "correct": True}]},
                "$.object.definition.choices[0].correct",
                id="component-extra",
            ),
            pytest.param(
                {"interactionType": "matching", "source": {"id": "a"}},
                "$.object.definition.source",
                id="component-list-not-array",
            ),
        ],
    )
    def test_invalid_interactions(self, build, definition, path):
        assert _error(self._with_definition(build, definition)).path == path


class TestAttachments:
    ATTACHMENT: dict[str, Any] = {  # noqa: RUF012
        "usageType": "http://adlnet.gov/expapi/attachments/certificate",
        "display": {"zh-CN": "结业证书", "en-US": "Certificate"},
        "description": {"zh-CN": "高等数学结业证书"},
        "contentType": "application/pdf",
        "length": 12345,
        "sha2": SHA256,
    }

    def test_valid_attachment(self, build):
        out = validate_statement(build({"attachments": [self.ATTACHMENT]}))
        assert out["attachments"] == [self.ATTACHMENT]

    def test_file_url(self, build):
        attachment = self.ATTACHMENT | {"fileUrl": "https://files.example.cn/cert.pdf"}
        assert validate_statement(build({"attachments": [attachment]}))["attachments"]

    def test_signature_attachment(self, build):
        attachment = self.ATTACHMENT | {
            "usageType": "http://adlnet.gov/expapi/attachments/signature",
            "contentType": "application/octet-stream",
        }
        assert validate_statement(build({"attachments": [attachment]}))["attachments"]

    @pytest.mark.parametrize(
        ("changes", "path"),
        [
            pytest.param({"usageType": DELETE}, "usageType", id="usageType-required"),
            pytest.param({"usageType": "certificate"}, "usageType", id="usageType-no-scheme"),
            pytest.param({"display": DELETE}, "display", id="display-required"),
            pytest.param({"display": {"??": "x"}}, "display.??", id="display-bad-tag"),
            pytest.param({"description": "证书"}, "description", id="description-not-map"),
            pytest.param({"contentType": DELETE}, "contentType", id="contentType-required"),
            pytest.param({"contentType": 1}, "contentType", id="contentType-number"),
            pytest.param({"contentType": "pdf"}, "contentType", id="contentType-not-media-type"),
            pytest.param({"length": DELETE}, "length", id="length-required"),
            pytest.param({"length": -1}, "length", id="length-negative"),
            pytest.param({"length": "12345"}, "length", id="length-string"),
            pytest.param({"length": 1.5}, "length", id="length-float"),
            pytest.param({"length": True}, "length", id="length-boolean"),
            pytest.param({"sha2": DELETE}, "sha2", id="sha2-required"),
            pytest.param({"sha2": "abc"}, "sha2", id="sha2-not-digest"),
            pytest.param({"fileUrl": "cert.pdf"}, "fileUrl", id="fileUrl-no-scheme"),
            pytest.param({"name": "cert.pdf"}, "name", id="attachment-extra"),
            pytest.param(
                {
                    "usageType": "http://adlnet.gov/expapi/attachments/signature",
                    "contentType": "application/jose",
                },
                "contentType",
                id="signature-content-type",
            ),
        ],
    )
    def test_invalid_attachment(self, build, changes, path):
        attachment = {k: v for k, v in self.ATTACHMENT.items() if changes.get(k) != DELETE}
        attachment.update({k: v for k, v in changes.items() if v != DELETE})
        error = _error(build({"attachments": [self.ATTACHMENT, attachment]}))
        assert error.path == f"$.attachments[1].{path}"

    def test_attachments_must_be_an_array(self, build):
        assert _error(build({"attachments": self.ATTACHMENT})).path == "$.attachments"
