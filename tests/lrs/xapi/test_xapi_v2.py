"""xAPI 2.0.0 (IEEE 9274.1.1) differences: context agents/groups, RFC 3339, version."""

from __future__ import annotations

from typing import Any

import pytest

from creditbank.lrs.xapi import XAPIValidationError, validate_statement

V2: dict[str, Any] = {"version": "2.0.0"}
AGENT = {"objectType": "Agent", "mbox": "mailto:wang.laoshi@uni.example.cn"}
GROUP = {"objectType": "Group", "mbox": "mailto:class-1@uni.example.cn"}
CONTEXT_AGENT = {
    "objectType": "contextAgent",
    "agent": AGENT,
    "relevantTypes": ["https://w3id.org/xapi/cb/roles/examiner"],
}
CONTEXT_GROUP = {
    "objectType": "contextGroup",
    "group": GROUP,
    "relevantTypes": ["https://w3id.org/xapi/cb/roles/cohort"],
}


def _error(raw: Any, version: str = "2.0.0") -> XAPIValidationError:
    with pytest.raises(XAPIValidationError) as info:
        validate_statement(raw, version=version)
    return info.value


def test_typical_statement_is_valid_in_2_0(typical):
    assert validate_statement(typical, **V2)["verb"]["display"]["zh-CN"] == "通过"


@pytest.mark.parametrize("version", ["2.0.0", "2.0"])
def test_context_agents_and_groups(build, version):
    raw = build(
        {"context.contextAgents": [CONTEXT_AGENT], "context.contextGroups": [CONTEXT_GROUP]}
    )
    out = validate_statement(raw, version=version)
    assert out["context"]["contextAgents"] == [CONTEXT_AGENT]
    assert out["context"]["contextGroups"] == [CONTEXT_GROUP]


def test_relevant_types_are_optional(build):
    entry = {"objectType": "contextAgent", "agent": AGENT}
    assert validate_statement(build({"context.contextAgents": [entry]}), **V2)


def test_anonymous_context_group(build):
    entry = {"objectType": "contextGroup", "group": {"objectType": "Group", "member": [AGENT]}}
    assert validate_statement(build({"context.contextGroups": [entry]}), **V2)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param(
            {"context.contextAgents": CONTEXT_AGENT}, "$.context.contextAgents", id="not-array"
        ),
        pytest.param(
            {"context.contextAgents": [CONTEXT_AGENT | {"objectType": "Agent"}]},
            "$.context.contextAgents[0].objectType",
            id="agent-entry-objectType",
        ),
        pytest.param(
            {"context.contextAgents": [{"agent": AGENT}]},
            "$.context.contextAgents[0].objectType",
            id="agent-entry-objectType-required",
        ),
        pytest.param(
            {"context.contextAgents": [{"objectType": "contextAgent"}]},
            "$.context.contextAgents[0].agent",
            id="agent-required",
        ),
        pytest.param(
            {"context.contextAgents": [CONTEXT_AGENT | {"agent": GROUP}]},
            "$.context.contextAgents[0].agent.objectType",
            id="agent-not-group",
        ),
        pytest.param(
            {"context.contextAgents": [CONTEXT_AGENT | {"relevantTypes": []}]},
            "$.context.contextAgents[0].relevantTypes",
            id="relevant-types-empty",
        ),
        pytest.param(
            {"context.contextAgents": [CONTEXT_AGENT | {"relevantTypes": ["examiner"]}]},
            "$.context.contextAgents[0].relevantTypes[0]",
            id="relevant-type-not-iri",
        ),
        pytest.param(
            {"context.contextAgents": [CONTEXT_AGENT | {"role": "examiner"}]},
            "$.context.contextAgents[0].role",
            id="agent-entry-extra",
        ),
        pytest.param(
            {"context.contextGroups": [CONTEXT_GROUP | {"objectType": "contextAgent"}]},
            "$.context.contextGroups[0].objectType",
            id="group-entry-objectType",
        ),
        pytest.param(
            {"context.contextGroups": [{"objectType": "contextGroup"}]},
            "$.context.contextGroups[0].group",
            id="group-required",
        ),
        pytest.param(
            {"context.contextGroups": [CONTEXT_GROUP | {"group": AGENT}]},
            "$.context.contextGroups[0].group.objectType",
            id="group-not-agent",
        ),
        pytest.param(
            {"context.contextGroups": [CONTEXT_GROUP | {"relevantTypes": "x"}]},
            "$.context.contextGroups[0].relevantTypes",
            id="relevant-types-not-array",
        ),
        pytest.param({"timestamp": "20240630T091500Z"}, "$.timestamp", id="timestamp-basic"),
        pytest.param({"timestamp": "2024-06-30T09:15Z"}, "$.timestamp", id="timestamp-no-seconds"),
        pytest.param({"timestamp": "2024-06-30 09:15:00Z"}, "$.timestamp", id="timestamp-space"),
        pytest.param({"timestamp": "2024-06-30T09:15:00"}, "$.timestamp", id="timestamp-no-tz"),
        pytest.param(
            {"timestamp": "2024-06-30T09:15:00+0800"}, "$.timestamp", id="offset-no-colon"
        ),
        pytest.param({"stored": "2024-06-30T09:15:00+08"}, "$.stored", id="stored-short-offset"),
        pytest.param({"version": "3.0.0"}, "$.version", id="version-3"),
        pytest.param({"version": "2.1.0"}, "$.version", id="version-2.1"),
        pytest.param({"version": "2.0"}, "$.version", id="version-two-parts"),
    ],
)
def test_invalid_in_2_0(build, changes, path):
    assert _error(build(changes)).path == path


@pytest.mark.parametrize("version", ["2.0.0", "2.0.1", "1.0.0", "1.0.3"])
def test_statement_versions_accepted_by_2_0(build, version):
    assert validate_statement(build({"version": version}), **V2)["version"] == version


@pytest.mark.parametrize("key", ["contextAgents", "contextGroups"])
def test_2_0_only_properties_are_rejected_under_1_0_3(build, key):
    entry = CONTEXT_AGENT if key == "contextAgents" else CONTEXT_GROUP
    error = _error(build({f"context.{key}": [entry]}), version="1.0.3")
    assert error.path == f"$.context.{key}"
    assert "2.0" in error.message


def test_substatement_may_carry_context_agents_in_2_0(build):
    sub = {
        "objectType": "SubStatement",
        "actor": AGENT,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "https://uni.example.cn/courses/math101"},
        "context": {"contextAgents": [CONTEXT_AGENT]},
    }
    assert validate_statement(build({"object": sub}), **V2)
    assert _error(build({"object": sub}), version="1.0.3").path == "$.object.context.contextAgents"
