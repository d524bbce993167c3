"""The Activities resource: the canonical Activity object for an id (Communication 2.5).

The canonical definition is computed when asked, from the stored statements that
carry the activity (as object, in context activities, inside a SubStatement), so
the ingest path never updates a shared row. Definitions merge oldest first, later
statements winning: language maps (``name``, ``description``) and ``extensions``
merge key by key, every other property is replaced. An unknown id still answers an
Activity object with just the id (the spec's SHOULD).

Only the newest ``MAX_STATEMENTS`` statements carrying the activity are read, so one
popular activity cannot make the request unbounded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import Forbidden
from creditbank.identity.principal import Principal
from creditbank.lrs.repository import ActivityRepository

MAX_STATEMENTS = 500
#: Scopes that may read the Activities (and Agents) resources.
READ_SCOPES = frozenset(
    {"statements/read", "statements/read/mine", "all/read", "define", "state", "profile"}
)
_ALL_STATEMENTS_SCOPES = ("statements/read", "all/read")
_MERGED_MAPS = ("name", "description", "extensions")
_CONTEXT_GROUPS = ("parent", "grouping", "category", "other")


def require_read(principal: Principal) -> uuid.UUID | None:
    """Check the principal may read; ``None`` when it sees every institution's statements,
    else the institution whose statements it sees (a nil UUID: none)."""
    if not any(principal.has_scope(scope) for scope in READ_SCOPES):
        raise Forbidden("this credential may not read activities or agents", code="scope_missing")
    if any(principal.has_scope(scope) for scope in _ALL_STATEMENTS_SCOPES):
        return None
    return principal.institution_id or uuid.UUID(int=0)


def activities_in(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Activity object of a statement: object, context activities, SubStatement's."""
    obj = statement.get("object")
    if isinstance(obj, dict):
        object_type = obj.get("objectType", "Activity")
        if object_type == "Activity":
            yield obj
        elif object_type == "SubStatement":
            yield from activities_in(obj)
    context = statement.get("context")
    if isinstance(context, dict):
        groups = context.get("contextActivities")
        if isinstance(groups, dict):
            for name in _CONTEXT_GROUPS:
                items = groups.get(name)
                for item in items if isinstance(items, list) else [items]:
                    if isinstance(item, dict):
                        yield item


def merge_definition(into: dict[str, Any], definition: dict[str, Any]) -> None:
    """Merge a later ``definition`` into ``into`` (in place)."""
    for key, value in definition.items():
        current = into.get(key)
        if key in _MERGED_MAPS and isinstance(current, dict) and isinstance(value, dict):
            into[key] = {**current, **value}
        else:
            into[key] = value


def canonical_activity(activity_id: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The Activity object with the definition merged from ``statements`` (oldest first)."""
    definition: dict[str, Any] = {}
    for statement in statements:
        for activity in activities_in(statement):
            if activity.get("id") == activity_id and isinstance(activity.get("definition"), dict):
                merge_definition(definition, activity["definition"])
    canonical: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        canonical["definition"] = definition
    return canonical


class ActivityService:
    async def get_activity(
        self, session: AsyncSession, principal: Principal, activity_id: str
    ) -> dict[str, Any]:
        """The canonical Activity (just the id when nothing is known about it)."""
        institution = require_read(principal)
        bodies = await ActivityRepository.from_session(session).bodies_with_activity(
            activity_id, institution_id=institution, limit=MAX_STATEMENTS
        )
        return canonical_activity(activity_id, bodies)


activities = ActivityService()
