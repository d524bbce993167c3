"""downgrade_to_1_0: a 2.0 statement as a strict 1.0.3 reader accepts it."""

from __future__ import annotations

import copy

from creditbank.lrs.xapi.format import downgrade_to_1_0
from creditbank.lrs.xapi.validate import validate_statement

AGENT = {"objectType": "Agent", "mbox": "mailto:li.na@example.cn"}
TEACHER = {"objectType": "contextAgent", "agent": {"mbox": "mailto:wang@example.cn"}}
CLASS = {
    "objectType": "contextGroup",
    "group": {"objectType": "Group", "member": [{"mbox": "mailto:a@example.cn"}]},
}


def statement(**extra):
    return {
        "actor": AGENT,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "https://mooc1.example.cn/courses/py-1"},
        "timestamp": "2026-03-01T08:00:00.123Z",
        "version": "2.0.0",
        **extra,
    }


def test_2_0_statement_becomes_valid_1_0_3():
    context = {"registration": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"}
    raw = statement(context={**context, "contextAgents": [TEACHER], "contextGroups": [CLASS]})
    original = copy.deepcopy(raw)
    out = downgrade_to_1_0(raw)
    assert raw == original
    assert out["version"] == "1.0.0"
    assert out["context"] == context
    validate_statement(out, version="1.0.3")


def test_sub_statement_context_is_trimmed():
    sub = {
        "objectType": "SubStatement",
        "actor": AGENT,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
        "object": {"id": "https://fxcc.example.edu.cn/courses/first-aid"},
        "context": {"contextAgents": [TEACHER]},
    }
    out = downgrade_to_1_0(statement(object=sub))
    assert out["object"]["context"] == {}
    validate_statement(out, version="1.0.3")


def test_1_0_statement_is_unchanged():
    raw = statement(version="1.0.0")
    assert downgrade_to_1_0(raw) is raw
