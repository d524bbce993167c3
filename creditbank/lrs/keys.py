"""What a statement matches in the query filters: the rows of ``lrs_statement_keys``.

Pure functions over a validated statement. The plain ``agent`` filter matches the
actor and an Agent/Group object; ``related_agents`` adds authority, instructor,
team, group members, context agents/groups (2.0) and everything inside a
SubStatement. The plain ``activity`` filter matches the Activity object;
``related_activities`` adds context activities and a SubStatement's activities.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from creditbank.lrs.models import KeyKind
from creditbank.lrs.xapi.ifi import agent_ifi

#: (kind, value, related)
Key = tuple[str, str, bool]

GROUP_PREFIX = "G:"


@lru_cache(maxsize=65536)
def key_hash(kind: str, value: str) -> int:
    """The signed 64-bit BLAKE2b of a filter key: what ``lrs_statement_keys`` indexes.

    A false match needs two distinct values with the same 64 bits: about n²/2⁶⁵
    for n distinct agents, activities, verbs and registrations (10⁻⁵ at 10⁷).
    """
    digest = hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def agent_key(agent: Mapping[str, Any]) -> str | None:
    """The filter key of an Agent or identified Group (the objectType is part of it)."""
    ifi = agent_ifi(agent if isinstance(agent, dict) else dict(agent))
    if ifi is None:
        return None
    return GROUP_PREFIX + ifi if agent.get("objectType") == "Group" else ifi


class KeySet:
    """Collects keys; a value matched plainly is never repeated as related."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], bool] = {}

    def add(self, kind: str, value: str | None, related: bool) -> None:
        if value is None:
            return
        slot = (kind, value)
        current = self._keys.get(slot)
        if current is None or (current and not related):
            self._keys[slot] = related

    def add_all(self, keys: Iterable[Key]) -> None:
        for kind, value, related in keys:
            self.add(kind, value, related)

    def entries(self) -> list[Key]:
        return [(kind, value, related) for (kind, value), related in self._keys.items()]


def _add_agent(keys: KeySet, agent: Any, related: bool) -> None:
    if not isinstance(agent, dict):
        return
    keys.add(KeyKind.AGENT, agent_key(agent), related)
    for member in agent.get("member") or ():
        if isinstance(member, dict):
            keys.add(KeyKind.AGENT, agent_key(member), True)


def _add_context(keys: KeySet, context: Any) -> None:
    if not isinstance(context, dict):
        return
    _add_agent(keys, context.get("instructor"), True)
    _add_agent(keys, context.get("team"), True)
    for item in context.get("contextAgents") or ():
        if isinstance(item, dict):
            _add_agent(keys, item.get("agent"), True)
    for item in context.get("contextGroups") or ():
        if isinstance(item, dict):
            _add_agent(keys, item.get("group"), True)
    activities = context.get("contextActivities")
    if isinstance(activities, dict):
        for group in activities.values():
            items = group if isinstance(group, list) else [group]
            for activity in items:
                if isinstance(activity, dict):
                    keys.add(KeyKind.ACTIVITY, activity.get("id"), True)


def _add_object(keys: KeySet, obj: Any, related: bool) -> None:
    if not isinstance(obj, dict):
        return
    object_type = obj.get("objectType", "Activity")
    if object_type == "Activity":
        keys.add(KeyKind.ACTIVITY, obj.get("id"), related)
    elif object_type in ("Agent", "Group"):
        _add_agent(keys, obj, related)
    elif object_type == "SubStatement":
        _add_agent(keys, obj.get("actor"), True)
        _add_object(keys, obj.get("object"), True)
        _add_context(keys, obj.get("context"))


def statement_keys(statement: Mapping[str, Any]) -> KeySet:
    """The keys a statement matches by its own content (StatementRef targets not included)."""
    keys = KeySet()
    _add_agent(keys, statement.get("actor"), False)
    verb = statement.get("verb")
    if isinstance(verb, dict):
        keys.add(KeyKind.VERB, verb.get("id"), False)
    _add_object(keys, statement.get("object"), False)
    context = statement.get("context")
    if isinstance(context, dict):
        registration = context.get("registration")
        if isinstance(registration, str):
            keys.add(KeyKind.REGISTRATION, registration.lower(), False)
        _add_context(keys, context)
    _add_agent(keys, statement.get("authority"), True)
    return keys
