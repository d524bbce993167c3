"""Statement equivalence, by property (issue 13, B3): reflexive, symmetric, and it ignores
exactly what xAPI 1.0.3 Part Two §2.3.1 lets it ignore — no more, no less.

Pure functions, no database: Hypothesis draws statements (agents by mbox or account,
groups, verbs with displays, activities with definitions, results, contexts,
timestamps) and applies either an ignorable rewrite (must stay equivalent) or a
meaningful change (must not).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from creditbank.lrs.xapi.compare import statements_equivalent

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
lang_tags = st.sampled_from(["zh-CN", "en-US", "en", "zh-Hans-CN"])


@st.composite
def agents(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        ifi: dict[str, Any] = {"mbox": f"mailto:{draw(names)}@{draw(names)}.example.cn"}
    else:
        ifi = {"account": {"homePage": f"https://{draw(names)}.example.cn", "name": draw(names)}}
    agent: dict[str, Any] = {"objectType": "Agent", **ifi}
    if draw(st.booleans()):
        agent["name"] = draw(st.text(min_size=1, max_size=6))
    return agent


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    instant = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
        milliseconds=draw(st.integers(0, 10**10))
    )
    actor: dict[str, Any]
    if draw(st.integers(0, 3)) == 0:
        actor = {"objectType": "Group", "member": draw(st.lists(agents(), min_size=2, max_size=4))}
    else:
        actor = draw(agents())
    statement: dict[str, Any] = {
        "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "actor": actor,
        "verb": {
            "id": f"http://adlnet.gov/expapi/verbs/{draw(names)}",
            "display": {draw(lang_tags): draw(st.text(max_size=6))},
        },
        "object": {
            "objectType": "Activity",
            "id": f"https://fxvs.example.edu.cn/xapi/activities/{draw(names)}",
            "definition": {"name": {draw(lang_tags): draw(st.text(max_size=6))}},
        },
        "timestamp": instant.isoformat().replace("+00:00", "Z"),
        "stored": instant.isoformat().replace("+00:00", "Z"),
        "version": "1.0.0",
        "authority": {
            "objectType": "Agent",
            "account": {"homePage": "https://fxvs.example.edu.cn", "name": "fxvs-demo"},
        },
    }
    if draw(st.booleans()):
        statement["result"] = {
            "score": {"scaled": draw(st.floats(-1, 1, allow_nan=False))},
            "success": draw(st.booleans()),
            "extensions": {"https://creditbank.example.cn/x/hours": draw(st.integers(0, 99))},
        }
    if draw(st.booleans()):
        statement["context"] = {
            "registration": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
            "language": draw(lang_tags),
            "contextActivities": {
                "parent": [{"id": f"https://fxvs.example.edu.cn/p/{draw(names)}"}]
            },
        }
    return statement


def _upper_domain(agent: dict[str, Any]) -> None:
    mbox = agent.get("mbox")
    if isinstance(mbox, str):
        local, _, domain = mbox.partition("@")
        agent["mbox"] = "MAILTO:" + local.removeprefix("mailto:") + "@" + domain.upper()


def ignorable_rewrite(statement: dict[str, Any], choice: int) -> dict[str, Any]:
    """One difference the spec says the comparison must ignore."""
    out = copy.deepcopy(statement)
    if choice == 0:
        out["verb"]["display"] = {"fr": "autre"}
    elif choice == 1:
        out["object"]["definition"] = {"description": {"en": "changed"}}
    elif choice == 2:
        out["stored"] = "2030-01-01T00:00:00.000Z"
    elif choice == 3:
        moment = datetime.fromisoformat(out["timestamp"].replace("Z", "+00:00"))
        out["timestamp"] = moment.astimezone(timezone(timedelta(hours=8))).isoformat()
    elif choice == 4:
        out["id"] = out["id"].upper()
    elif choice == 5:
        if out["actor"].get("objectType") == "Group":
            out["actor"]["member"] = list(reversed(out["actor"]["member"]))
            for member in out["actor"]["member"]:
                _upper_domain(member)
        else:
            _upper_domain(out["actor"])
    elif choice == 6:
        context = out.get("context")
        if context:
            context["registration"] = context["registration"].upper()
            context["language"] = context["language"].lower()
            context["contextActivities"]["parent"] = context["contextActivities"]["parent"][0]
    elif choice == 7:
        out["object"].pop("objectType")
        if out["actor"].get("objectType") == "Agent":
            out["actor"].pop("objectType")
    return out


def meaningful_change(statement: dict[str, Any], choice: int) -> dict[str, Any]:
    """One difference that makes it another statement."""
    out = copy.deepcopy(statement)
    if choice == 0:
        out["verb"]["id"] += "-other"
    elif choice == 1:
        out["object"]["id"] += "-other"
    elif choice == 2:
        out["result"] = {"success": not (out.get("result") or {}).get("success", False)}
    elif choice == 3:
        actor = out["actor"]
        target = actor["member"][0] if actor.get("objectType") == "Group" else actor
        if "mbox" in target:
            local, _, domain = target["mbox"].partition("@")
            target["mbox"] = local + "x@" + domain
        else:
            target["account"]["name"] += "X"  # account names are case- and value-exact
    elif choice == 4:
        moment = datetime.fromisoformat(out["timestamp"].replace("Z", "+00:00"))
        out["timestamp"] = (moment + timedelta(milliseconds=1)).isoformat()
    elif choice == 5:
        out["context"] = {**(out.get("context") or {}), "platform": "another"}
    return out


@settings(max_examples=150, deadline=None)
@given(statements())
def test_reflexive(statement):
    assert statements_equivalent(statement, copy.deepcopy(statement))


@settings(max_examples=150, deadline=None)
@given(statements(), st.integers(0, 7), st.integers(0, 5), st.booleans())
def test_symmetric(statement, ignorable, meaningful, change):
    other = (
        meaningful_change(statement, meaningful)
        if change
        else ignorable_rewrite(statement, ignorable)
    )
    assert statements_equivalent(statement, other) == statements_equivalent(other, statement)


@settings(max_examples=200, deadline=None)
@given(statements(), st.integers(0, 7))
def test_ignores_what_the_spec_ignores(statement, choice):
    assert statements_equivalent(statement, ignorable_rewrite(statement, choice))


@settings(max_examples=200, deadline=None)
@given(statements(), st.integers(0, 5))
def test_counts_every_other_difference(statement, choice):
    assert not statements_equivalent(statement, meaningful_change(statement, choice))


@settings(max_examples=100, deadline=None)
@given(statements(), st.sets(st.sampled_from(["id", "authority", "timestamp", "version"])))
def test_lrs_assigned_properties_absent_from_the_incoming_one_are_ignored(statement, dropped):
    incoming = {k: v for k, v in statement.items() if k not in dropped}
    assert statements_equivalent(statement, incoming)
