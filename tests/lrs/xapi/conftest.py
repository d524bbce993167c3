"""Fixtures for the pure xAPI data-model tests: a typical statement and a mutator."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

#: A value for ``build`` meaning "remove this property".
DELETE = "<delete>"

TYPICAL: dict[str, Any] = {
    "id": "d1b0c5a8-3c8e-4f6a-9d2b-7e5f1a2b3c4d",
    "actor": {
        "objectType": "Agent",
        "name": "李娜",
        "account": {"homePage": "https://uni.example.cn", "name": "20230001"},
    },
    "verb": {
        "id": "http://adlnet.gov/expapi/verbs/passed",
        "display": {"zh-CN": "通过", "en-US": "passed"},
    },
    "object": {
        "objectType": "Activity",
        "id": "https://uni.example.cn/courses/math101/exam",
        "definition": {
            "name": {"zh-CN": "高等数学期末考试", "en": "Calculus final exam"},
            "type": "http://adlnet.gov/expapi/activities/assessment",
        },
    },
    "result": {
        "score": {"scaled": 0.86, "raw": 86, "min": 0, "max": 100},
        "success": True,
        "duration": "PT1H30M12.5S",
    },
    "context": {
        "registration": "a7f1c2d3-4b5e-4f60-8a9b-0c1d2e3f4a5b",
        "contextActivities": {
            "parent": [{"id": "https://uni.example.cn/courses/math101"}],
            "category": {"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"},
        },
    },
    "timestamp": "2024-06-30T09:15:00.123+08:00",
}


def apply_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``changes`` applied (``"a.b.0.c": value`` or DELETE)."""
    out = copy.deepcopy(base)
    for dotted, value in changes.items():
        parts = dotted.split(".")
        node: Any = out
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        elif value == DELETE:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return out


@pytest.fixture
def typical() -> dict[str, Any]:
    """A fresh copy of a typical credit-bank statement (account actor, zh-CN maps)."""
    return copy.deepcopy(TYPICAL)


@pytest.fixture
def build() -> Callable[..., dict[str, Any]]:
    """``build(changes, base=TYPICAL)``: a mutated copy of a statement."""

    def _build(changes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
        return apply_changes(TYPICAL if base is None else base, changes)

    return _build
