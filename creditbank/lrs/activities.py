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

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import Forbidden
from creditbank.identity.principal import Principal
from creditbank.lrs.keys import key_hash
from creditbank.lrs.models import KeyKind, Statement, StatementKey

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


class ActivityRepository:
    """Reads of the statement store for the Activities resource (same context: lrs)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ActivityRepository:
        return cls(session)

    async def bodies_with_activity(
        self, activity_id: str, *, institution_id: uuid.UUID | None, limit: int
    ) -> list[dict[str, Any]]:
        """Bodies of the newest ``limit`` statements that mention ``activity_id``, oldest first."""
        query = (
            select(Statement.body)
            .join(StatementKey, StatementKey.statement_seq == Statement.seq)
            .where(StatementKey.key_hash == key_hash(KeyKind.ACTIVITY, activity_id))
            .order_by(Statement.seq.desc())
            .limit(limit)
        )
        if institution_id is not None:
            query = query.where(Statement.institution_id == institution_id)
        rows = (await self.session.execute(query)).scalars().all()
        return list(reversed(rows))


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
