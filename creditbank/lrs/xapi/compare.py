"""Statement comparison (xAPI 1.0.3 Part Two §2.3.1 "Statement Comparison Requirements").

Differences that the exceptions to statement immutability could have caused are
ignored; every other difference counts. Ignored:

* properties the LRS assigns (``stored`` always; ``id``, ``authority``, ``timestamp``
  and ``version`` when the incoming statement does not carry them);
* Activity Definitions and Verb ``display`` (not part of the statement itself);
* timestamp serialisation (compared as instants, to the millisecond);
* the order of Group members;
* case where the spec makes it irrelevant: the ``mailto:`` scheme and e-mail domain,
  hex digests, UUIDs and language tags (language-map keys, ``context.language``);
* single Activity vs. array in ``contextActivities``; an absent objectType vs. its
  default (``Activity`` for objects, ``Agent`` for agents);
* duration precision beyond 0.01 s.

Result Duration is otherwise compared as a string, as the spec requires.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.validate import parse_timestamp

__all__ = ["canonical_form", "statements_equivalent"]

_LRS_ASSIGNED = ("id", "authority", "timestamp", "version")
_SECONDS_RE = re.compile(r"(?P<int>[0-9]+)(?:[.,](?P<frac>[0-9]*))?S\Z")


def _json(value: Any) -> Any:
    """Plain JSON made comparable: booleans are kept apart from the numbers 0 and 1."""
    if value is True or value is False:
        return ("bool", value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _sort_key(value: Any) -> str:
    return repr(value)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _mbox(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    address, at, domain = value.rpartition("@")
    if not at:
        return value
    scheme, colon, local = address.partition(":")
    return f"{scheme.lower()}{colon}{local}@{domain.lower()}"


def _language_map(value: Any) -> Any:
    if not isinstance(value, dict):
        return _json(value)
    return {k.lower(): v for k, v in value.items()}


def _instant(value: Any) -> Any:
    try:
        moment: datetime = parse_timestamp(value)
    except XAPIValidationError:
        return value
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _duration(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    match = _SECONDS_RE.search(value)
    if match is None:
        return value
    centis = int(match["int"]) * 100 + int(((match["frac"] or "") + "00")[:2])
    return (value[: match.start()], centis)


def _agent(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return _json(agent)
    out: dict[str, Any] = {}
    for key, value in agent.items():
        if key == "mbox":
            out[key] = _mbox(value)
        elif key == "mbox_sha1sum":
            out[key] = _lower(value)
        elif key == "member" and isinstance(value, list):
            out[key] = sorted((_agent(m) for m in value), key=_sort_key)
        else:
            out[key] = _json(value)
    out.setdefault("objectType", "Agent")
    return out


def _activity(activity: Any) -> Any:
    if not isinstance(activity, dict):
        return _json(activity)
    out = {k: _json(v) for k, v in activity.items() if k != "definition"}
    out.setdefault("objectType", "Activity")
    return out


def _statement_ref(ref: Any) -> Any:
    if not isinstance(ref, dict):
        return _json(ref)
    return {k: (_lower(v) if k == "id" else _json(v)) for k, v in ref.items()}


def _object(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return _json(obj)
    object_type = obj.get("objectType", "Activity")
    if object_type == "Activity":
        return _activity(obj)
    if object_type in ("Agent", "Group"):
        return _agent(obj)
    if object_type == "StatementRef":
        return _statement_ref(obj)
    if object_type == "SubStatement":
        return _body(obj)
    return _json(obj)


def _context(context: Any) -> Any:
    if not isinstance(context, dict):
        return _json(context)
    out: dict[str, Any] = {}
    for key, value in context.items():
        if key in ("registration", "language"):
            out[key] = _lower(value)
        elif key in ("instructor", "team"):
            out[key] = _agent(value)
        elif key == "statement":
            out[key] = _statement_ref(value)
        elif key == "contextActivities" and isinstance(value, dict):
            out[key] = {
                kind: [_activity(a) for a in (items if isinstance(items, list) else [items])]
                for kind, items in value.items()
            }
        elif key == "contextAgents" and isinstance(value, list):
            out[key] = [
                {k: (_agent(v) if k == "agent" else _json(v)) for k, v in item.items()}
                if isinstance(item, dict)
                else _json(item)
                for item in value
            ]
        elif key == "contextGroups" and isinstance(value, list):
            out[key] = [
                {k: (_agent(v) if k == "group" else _json(v)) for k, v in item.items()}
                if isinstance(item, dict)
                else _json(item)
                for item in value
            ]
        else:
            out[key] = _json(value)
    return out


def _result(result: Any) -> Any:
    if not isinstance(result, dict):
        return _json(result)
    return {k: (_duration(v) if k == "duration" else _json(v)) for k, v in result.items()}


def _attachment(attachment: Any) -> Any:
    if not isinstance(attachment, dict):
        return _json(attachment)
    out: dict[str, Any] = {}
    for key, value in attachment.items():
        if key in ("display", "description"):
            out[key] = _language_map(value)
        elif key == "sha2":
            out[key] = _lower(value)
        else:
            out[key] = _json(value)
    return out


def _body(stmt: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in stmt.items():
        if key in ("actor", "authority"):
            out[key] = _agent(value)
        elif key == "verb":
            out[key] = (
                {k: _json(v) for k, v in value.items() if k != "display"}
                if isinstance(value, dict)
                else _json(value)
            )
        elif key == "object":
            out[key] = _object(value)
        elif key == "context":
            out[key] = _context(value)
        elif key == "result":
            out[key] = _result(value)
        elif key in ("timestamp", "stored"):
            out[key] = _instant(value)
        elif key == "id":
            out[key] = _lower(value)
        elif key == "attachments" and isinstance(value, list):
            out[key] = [_attachment(a) for a in value]
        else:
            out[key] = _json(value)
    return out


def canonical_form(stmt: dict[str, Any]) -> dict[str, Any]:
    """A comparable form of ``stmt`` in which ignorable differences have vanished."""
    return _body(stmt)


def statements_equivalent(stored: dict[str, Any], incoming: dict[str, Any]) -> bool:
    """Whether ``incoming`` matches ``stored`` per the Statement Comparison Requirements.

    ``stored`` is the statement as the LRS keeps it; properties the LRS assigns are
    compared only when ``incoming`` carries them (``stored`` is never compared).
    """
    ignore = {"stored"}
    ignore.update(key for key in _LRS_ASSIGNED if key not in incoming)
    left = {k: v for k, v in stored.items() if k not in ignore}
    right = {k: v for k, v in incoming.items() if k not in ignore}
    return _body(left) == _body(right)
