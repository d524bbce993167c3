"""Statement formats of ``GET /statements``: ``exact``, ``ids`` and ``canonical``.

* ``ids``: Agents and identified Groups keep only their objectType and IFI, anonymous
  Groups their objectType and members (as ids), Activities their id alone,
  Verbs their id (xAPI 1.0.3 Part Three §2.1.3 ``format``).
* ``canonical``: every language map of an Activity (name, description, interaction
  components) and the Verb display keep a single language, chosen per map from the
  ``Accept-Language`` list (RFC 2616 §14.4 matching; Agents/Groups stay exact).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["best_language", "downgrade_to_1_0", "format_statement", "parse_accept_language"]

Format = Literal["exact", "ids", "canonical"]

_IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
_COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")


def parse_accept_language(header: str | None) -> list[str]:
    """Language ranges of an ``Accept-Language`` header, best first (q=0 dropped).

    ``"zh-CN,zh;q=0.9,en;q=0.8"`` → ``["zh-CN", "zh", "en"]``; ties keep header order.
    """
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        tag = fields[0]
        if not tag:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        if not 0 < quality <= 1:
            continue
        ranked.append((-quality, index, tag))
    ranked.sort()
    return [tag for _, _, tag in ranked]


def _matches(language_range: str, tag: str) -> bool:
    if language_range == "*":
        return True
    rng, low = language_range.lower(), tag.lower()
    return low == rng or low.startswith(rng + "-")


def best_language(language_map: dict[str, Any], languages: list[str]) -> str | None:
    """The key of ``language_map`` that best fits ``languages`` (best first).

    A range matches a tag equal to it or starting with it plus ``-`` (RFC 2616);
    failing that, a range is truncated (``zh-Hans-CN`` → ``zh-Hans`` → ``zh``); failing
    that, the map's first key.
    """
    if not language_map:
        return None
    keys = list(language_map)
    for language_range in languages:
        for key in keys:
            if _matches(language_range, key):
                return key
    for language_range in languages:
        parts = language_range.split("-")
        while len(parts) > 1:
            parts.pop()
            prefix = "-".join(parts)
            for key in keys:
                if _matches(prefix, key):
                    return key
    return keys[0]


def _one_language(language_map: Any, languages: list[str]) -> Any:
    if not isinstance(language_map, dict):
        return language_map
    key = best_language(language_map, languages)
    return {} if key is None else {key: language_map[key]}


# ----------------------------------------------------------------------------- ids


def _agent_ids(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    out: dict[str, Any] = {"objectType": agent.get("objectType", "Agent")}
    has_ifi = False
    for key in _IFI_KEYS:
        if key in agent:
            out[key] = copy.deepcopy(agent[key])
            has_ifi = True
    if not has_ifi and "member" in agent:
        out["member"] = [_agent_ids(member) for member in agent["member"]]
    return out


def _activity_ids(activity: Any) -> Any:
    if not isinstance(activity, dict):
        return activity
    # Only the id: the ADL conformance suite (XAPI-00171) expects nothing else.
    return {"id": activity.get("id")}


# ------------------------------------------------------------------------ canonical


def _activity_canonical(activity: Any, languages: list[str]) -> Any:
    if not isinstance(activity, dict):
        return activity
    out = copy.deepcopy(activity)
    definition = out.get("definition")
    if isinstance(definition, dict):
        for key in ("name", "description"):
            if key in definition:
                definition[key] = _one_language(definition[key], languages)
        for key in _COMPONENT_LISTS:
            for component in definition.get(key) or ():
                if isinstance(component, dict) and "description" in component:
                    component["description"] = _one_language(component["description"], languages)
    return out


# -------------------------------------------------------------------------- walking


def _walk(
    stmt: dict[str, Any],
    agent: Callable[[Any], Any],
    activity: Callable[[Any], Any],
    verb: Callable[[Any], Any],
) -> dict[str, Any]:
    out = dict(stmt)
    if "actor" in out:
        out["actor"] = agent(out["actor"])
    if "verb" in out:
        out["verb"] = verb(out["verb"])
    if "authority" in out:
        out["authority"] = agent(out["authority"])
    obj = out.get("object")
    if isinstance(obj, dict):
        object_type = obj.get("objectType", "Activity")
        if object_type == "Activity":
            out["object"] = activity(obj)
        elif object_type in ("Agent", "Group"):
            out["object"] = agent(obj)
        elif object_type == "SubStatement":
            out["object"] = _walk(obj, agent, activity, verb)
        else:
            out["object"] = copy.deepcopy(obj)
    context = out.get("context")
    if isinstance(context, dict):
        context = copy.deepcopy(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = agent(context[key])
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            for key, value in activities.items():
                items = value if isinstance(value, list) else [value]
                activities[key] = [activity(item) for item in items]
        for item in context.get("contextAgents") or ():
            if isinstance(item, dict) and "agent" in item:
                item["agent"] = agent(item["agent"])
        for item in context.get("contextGroups") or ():
            if isinstance(item, dict) and "group" in item:
                item["group"] = agent(item["group"])
        out["context"] = context
    for key in ("result", "attachments"):
        if key in out:
            out[key] = copy.deepcopy(out[key])
    return out


def format_statement(stmt: dict[str, Any], fmt: Format, languages: list[str]) -> dict[str, Any]:
    """``stmt`` in the given format; returns a new dict and never mutates ``stmt``."""
    if fmt == "exact":
        return copy.deepcopy(stmt)
    if fmt == "ids":
        return _walk(
            stmt,
            _agent_ids,
            _activity_ids,
            lambda verb: {"id": verb.get("id")} if isinstance(verb, dict) else verb,
        )
    if fmt == "canonical":

        def verb_canonical(verb: Any) -> Any:
            if not isinstance(verb, dict):
                return verb
            out = dict(verb)
            if "display" in out:
                out["display"] = _one_language(out["display"], languages)
            return out

        return _walk(
            stmt,
            copy.deepcopy,
            lambda activity: _activity_canonical(activity, languages),
            verb_canonical,
        )
    raise ValueError(f"unknown statement format {fmt!r}")


# ----------------------------------------------------------------- version downgrade

_CONTEXT_ONLY_2_0 = ("contextAgents", "contextGroups")


def downgrade_to_1_0(stmt: dict[str, Any]) -> dict[str, Any]:
    """A 2.0 statement as a strict 1.0.3 reader can accept it (``stmt`` is not mutated).

    The 2.0-only context properties (``contextAgents``, ``contextGroups``, in the
    statement and its SubStatement) are left out and a ``2.0.x`` ``version`` becomes
    ``1.0.0``; a 1.0.x statement is returned unchanged. Everything else of 2.0 is valid
    1.0.3 already (RFC 3339 timestamps are ISO 8601).
    """
    version = stmt.get("version")
    if not (isinstance(version, str) and version.startswith("2.")):
        return stmt
    out = dict(stmt)
    out["version"] = "1.0.0"
    for holder_key in (None, "object"):
        holder = out if holder_key is None else out.get(holder_key)
        if not isinstance(holder, dict):
            continue
        context = holder.get("context")
        if isinstance(context, dict) and any(k in context for k in _CONTEXT_ONLY_2_0):
            trimmed = {k: v for k, v in context.items() if k not in _CONTEXT_ONLY_2_0}
            if holder_key is None:
                out["context"] = trimmed
            else:
                out[holder_key] = {**holder, "context": trimmed}
    return out
