"""statements_equivalent: xAPI 1.0.3 §2.3.1 Statement Comparison Requirements."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from creditbank.lrs.xapi import statements_equivalent, validate_statement

AUTHORITY = {
    "objectType": "Agent",
    "account": {"homePage": "https://creditbank.example.cn", "name": "uni-1"},
}
A = {"mbox": "mailto:a@x.cn"}
B = {"account": {"homePage": "https://uni.example.cn", "name": "b"}}


@pytest.fixture
def stored(typical) -> dict[str, Any]:
    """``typical`` as the LRS stores it: validated, with the LRS-assigned properties."""
    body = validate_statement(typical)
    body["stored"] = "2024-06-30T01:20:00.000Z"
    body["authority"] = AUTHORITY
    body["version"] = "1.0.0"
    return body


def test_same_statement_is_equivalent(stored, typical):
    assert statements_equivalent(stored, typical)
    assert statements_equivalent(stored, validate_statement(typical))


@pytest.mark.parametrize("key", ["id", "timestamp"])
def test_lrs_assigned_properties_are_ignored_when_not_sent(stored, typical, key):
    del typical[key]
    assert statements_equivalent(stored, typical)


def test_stored_is_always_ignored(stored, typical):
    typical["stored"] = "2000-01-01T00:00:00Z"
    assert statements_equivalent(stored, typical)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("authority", {"mbox": "mailto:someone@else.cn"}),
        ("version", "1.0.3"),
        ("timestamp", "2024-06-30T09:15:01+08:00"),
        ("id", "8f87ccde-bb56-4c2e-ab83-44982ef22df0"),
    ],
)
def test_lrs_assigned_properties_are_compared_when_sent(stored, typical, key, value):
    typical[key] = value
    assert not statements_equivalent(stored, typical)


def test_timestamps_compare_as_instants(stored, typical):
    typical["timestamp"] = "2024-06-30T01:15:00.123Z"
    assert statements_equivalent(stored, typical)
    typical["timestamp"] = "2024-06-30T01:15:00.1234Z"  # beyond milliseconds
    assert statements_equivalent(stored, typical)
    typical["timestamp"] = "2024-06-30T01:15:00.124Z"
    assert not statements_equivalent(stored, typical)


def test_mailto_scheme_and_domain_are_case_insensitive(build):
    stored = build({"actor": {"mbox": "mailto:li.na@example.cn"}})
    assert statements_equivalent(stored, build({"actor": {"mbox": "MAILTO:li.na@EXAMPLE.cn"}}))
    assert not statements_equivalent(stored, build({"actor": {"mbox": "mailto:Li.Na@example.cn"}}))


def test_uuids_and_hex_are_case_insensitive(build):
    sha1 = "1c8c6e3d0a0c5a3fbd9d1e0ad3a6c21f9a0e3b7d"
    stored = build({"actor": {"mbox_sha1sum": sha1}})
    incoming = build(
        {
            "actor": {"mbox_sha1sum": sha1.upper()},
            "id": stored["id"].upper(),
            "context.registration": stored["context"]["registration"].upper(),
        }
    )
    assert statements_equivalent(stored, incoming)


def test_language_tags_are_case_insensitive(build):
    stored = build({"context.language": "zh-CN"})
    assert statements_equivalent(stored, build({"context.language": "zh-cn"}))
    assert not statements_equivalent(stored, build({"context.language": "zh-TW"}))


def test_group_member_order_is_ignored(build):
    stored = build({"actor": {"objectType": "Group", "member": [A, B]}})
    assert statements_equivalent(
        stored, build({"actor": {"objectType": "Group", "member": [B, A]}})
    )
    assert not statements_equivalent(
        stored, build({"actor": {"objectType": "Group", "member": [A]}})
    )


def test_verb_display_and_activity_definition_are_not_part_of_the_statement(build, typical):
    incoming = build(
        {
            "verb.display": {"en-US": "passed"},
            "object.definition": {"name": {"zh-CN": "期末考试"}},
            "context.contextActivities.parent.0.definition": {"name": {"en": "Math"}},
        }
    )
    assert statements_equivalent(typical, incoming)


def test_single_context_activity_equals_array(typical):
    validated = validate_statement(typical)
    assert statements_equivalent(validated, typical)
    assert statements_equivalent(typical, validated)


def test_default_object_types(build):
    stored = build({"object.objectType": "Activity", "actor.objectType": "Agent"})
    assert statements_equivalent(
        stored, build({"object.objectType": "<delete>", "actor.objectType": "<delete>"})
    )


def test_duration_precision_beyond_centiseconds_is_ignored(build):
    stored = build({"result.duration": "PT1H30M12.50S"})
    assert statements_equivalent(stored, build({"result.duration": "PT1H30M12.5S"}))
    assert statements_equivalent(stored, build({"result.duration": "PT1H30M12.509S"}))
    assert not statements_equivalent(stored, build({"result.duration": "PT1H30M12.51S"}))
    # otherwise a string: no unit conversion
    assert not statements_equivalent(stored, build({"result.duration": "PT5412.5S"}))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"verb.id": "http://adlnet.gov/expapi/verbs/failed"}, id="verb-id"),
        pytest.param({"actor.name": "李 娜"}, id="actor-name"),
        pytest.param({"actor.account.name": "20230002"}, id="account-name"),
        pytest.param({"object.id": "https://uni.example.cn/courses/math102/exam"}, id="object-id"),
        pytest.param({"result.score.raw": 87}, id="score"),
        pytest.param({"result.success": False}, id="success"),
        pytest.param({"result.response": "B"}, id="response-added"),
        pytest.param({"context.platform": "Moodle"}, id="context-added"),
        pytest.param({"result.extensions": {"https://x.cn/e": 1}}, id="extension-added"),
        pytest.param({"verb.id": "HTTP://adlnet.gov/expapi/verbs/passed"}, id="iri-case"),
    ],
)
def test_other_differences_count(build, typical, changes):
    assert not statements_equivalent(typical, build(changes))


def test_booleans_are_not_numbers_in_extensions(build):
    stored = build({"result.extensions": {"https://x.cn/e": True}})
    assert not statements_equivalent(stored, build({"result.extensions": {"https://x.cn/e": 1}}))
    assert statements_equivalent(stored, build({"result.extensions": {"https://x.cn/e": True}}))


def test_substatements_compare_recursively(build):
    sub: dict[str, Any] = {
        "objectType": "SubStatement",
        "actor": {"objectType": "Group", "member": [A, B]},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"zh-CN": "完成"}},
        "object": {"id": "https://uni.example.cn/courses/math101"},
        "timestamp": "2030-01-01T08:00:00+08:00",
    }
    other = copy.deepcopy(sub)
    other["actor"]["member"].reverse()
    other["verb"]["display"] = {"en": "completed"}
    other["timestamp"] = "2030-01-01T00:00:00Z"
    assert statements_equivalent(build({"object": sub}), build({"object": other}))
    other["verb"]["id"] = "http://adlnet.gov/expapi/verbs/attempted"
    assert not statements_equivalent(build({"object": sub}), build({"object": other}))


def test_attachment_metadata_counts(build):
    attachment = {
        "usageType": "http://adlnet.gov/expapi/attachments/certificate",
        "display": {"zh-CN": "证书"},
        "contentType": "application/pdf",
        "length": 10,
        "sha2": "AB" * 32,
    }
    stored = build({"attachments": [attachment]})
    same = build({"attachments": [attachment | {"sha2": "ab" * 32, "display": {"zh-cn": "证书"}}]})
    assert statements_equivalent(stored, same)
    assert not statements_equivalent(stored, build({"attachments": [attachment | {"length": 11}]}))
