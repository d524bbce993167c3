"""Validation of the xAPI statement data model (1.0.3 and 2.0.0), hand-written for speed.

Every function here is pure: it takes decoded JSON and returns a validated, normalised
deep copy, or raises :class:`XAPIValidationError` naming the offending JSON path. The
only normalisation is that ``context.contextActivities`` values become arrays; nothing
else is changed.

Rules follow xAPI 1.0.3 Part Two §2.2–§2.6 and §4 (and IEEE 9274.1.1 / xAPI 2.0.0 when
the version starts with ``2.``): unknown properties, nulls (outside extension values)
and wrong JSON types are rejected everywhere; booleans are never numbers. Choices made
where the spec leaves room:

* timestamps need a time zone; 1.0.3 accepts ISO 8601 extended or basic format, 2.0
  only RFC 3339 ``date-time``; the offset ``-00:00`` ("unknown") is refused;
* UUIDs are the standard string form of the RFC 4122 variant (any case, versions 1–8);
* score ``min`` may equal ``max``; ``raw`` must lie within them;
* interaction component lists are only allowed for their interactionType, and
  response patterns are only type-checked (the LRS MAY, not MUST, check them);
* under 2.0 a statement ``version`` of 1.0, 1.0.x or 2.0.x is accepted, under 1.0.x only 1.0
  and 1.0.x (the ADL suite sends ``1.0``; a group ``authority`` must be anonymous).

This layer is hand-written with precompiled regexes instead of the pydantic models of
STYLE.md §7 to keep validation within tens of microseconds per statement (the ingest
target is 3000 statements/s on two cores); ``tests/lrs/xapi`` has one case per rule.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from creditbank.lrs.xapi.errors import XAPIValidationError

__all__ = [
    "INTERACTION_TYPES",
    "SIGNATURE_USAGE_TYPE",
    "VOIDED_VERB",
    "is_language_tag",
    "is_uuid",
    "parse_duration",
    "parse_timestamp",
    "validate_agent",
    "validate_duration",
    "validate_extensions",
    "validate_iri",
    "validate_language_map",
    "validate_language_tag",
    "validate_statement",
    "validate_timestamp",
    "validate_uuid",
]

_MISSING: Final = object()

SIGNATURE_USAGE_TYPE: Final = "http://adlnet.gov/expapi/attachments/signature"
VOIDED_VERB: Final = "http://adlnet.gov/expapi/verbs/voided"

# --------------------------------------------------------------------------- regexes

#: An IRI/IRL: a scheme, a colon, then at least one character, none of which RFC 3987
#: forbids (whitespace, controls, ``<>"{}|\\^`` and the backtick).
_IRI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+")
_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_MAILTO_RE: Final = re.compile(r"(?i:mailto):[^\s@<>\"]+@[^\s@<>\"]+")
_SHA1_RE: Final = re.compile(r"[0-9A-Fa-f]{40}")
_SHA2_RE: Final = re.compile(
    r"(?:[0-9A-Fa-f]{56}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{96}|[0-9A-Fa-f]{128})"
)
#: RFC 4122 standard string form, versions 1–8, the RFC 4122 variant (``10xx``).
_UUID_RE: Final = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[1-8][0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}"
)
_VERSION_10_RE: Final = re.compile(r"1\.0(?:\.[0-9]+)?")
_VERSION_20_RE: Final = re.compile(r"1\.0(?:\.[0-9]+)?|2\.0\.[0-9]+")

# RFC 5646 §2.1 ABNF, syntax only (registry membership is not checked).
_ALNUM = "[A-Za-z0-9]"
_LANGTAG = (
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"  # language [-extlang]
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"  # variants
    rf"(?:-[0-9A-WY-Za-wy-z](?:-{_ALNUM}{{2,8}})+)*"  # extensions
    rf"(?:-[Xx](?:-{_ALNUM}{{1,8}})+)?"  # private use
)
_PRIVATEUSE = rf"[Xx](?:-{_ALNUM}{{1,8}})+"
_GRANDFATHERED = (
    "en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|"
    "i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE|art-lojban|cel-gaulish|no-bok|"
    "no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
_LANGTAG_RE: Final = re.compile(rf"(?:{_LANGTAG}|{_PRIVATEUSE}|(?i:{_GRANDFATHERED}))")

# ISO 8601 durations, format of ISO 8601:2004 §4.4.3.2 (the alternative format is refused).
_NUM = r"[0-9]+(?:[.,][0-9]+)?"
_DURATION_RE: Final = re.compile(
    rf"P(?!\Z)(?:(?P<W>{_NUM})W|(?:(?P<Y>{_NUM})Y)?(?:(?P<Mo>{_NUM})M)?(?:(?P<D>{_NUM})D)?"
    rf"(?:T(?=[0-9])(?:(?P<H>{_NUM})H)?(?:(?P<Mi>{_NUM})M)?(?:(?P<S>{_NUM})S)?)?)"
)
_DURATION_UNITS: Final = (
    ("Y", 365 * 86400.0),
    ("Mo", 30 * 86400.0),
    ("W", 7 * 86400.0),
    ("D", 86400.0),
    ("H", 3600.0),
    ("Mi", 60.0),
    ("S", 1.0),
)

# Timestamps. ``_TS_ISO_RE`` accepts ISO 8601 calendar date-times in extended or basic
# format (xAPI 1.0.3); ``_TS_RFC3339_RE`` is RFC 3339 ``date-time`` (xAPI 2.0). A time
# zone designator is required by both.
_TS_ISO_RE: Final = re.compile(
    r"(?P<y>[0-9]{4})(?P<sep>-?)(?P<mo>[0-9]{2})(?P=sep)(?P<d>[0-9]{2})"
    r"[Tt](?P<h>[0-9]{2})(?P<tsep>:?)(?P<mi>[0-9]{2})"
    r"(?:(?P=tsep)(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]+))?)?"
    r"(?P<tz>[Zz]|(?P<tzs>[+-])(?P<tzh>[0-9]{2})(?::?(?P<tzm>[0-9]{2}))?)"
)
_TS_RFC3339_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)

INTERACTION_TYPES: Final = frozenset(
    {
        "true-false",
        "choice",
        "fill-in",
        "long-fill-in",
        "matching",
        "performance",
        "sequencing",
        "likert",
        "numeric",
        "other",
    }
)
#: Interaction component lists each interactionType supports (xAPI 1.0.3 §2.4.4.1).
_COMPONENT_LISTS: Final = ("choices", "scale", "source", "target", "steps")
_ALLOWED_COMPONENTS: Final[dict[str, frozenset[str]]] = {
    "choice": frozenset({"choices"}),
    "sequencing": frozenset({"choices"}),
    "likert": frozenset({"scale"}),
    "matching": frozenset({"source", "target"}),
    "performance": frozenset({"steps"}),
}

# ------------------------------------------------------------------------ key sets

_STATEMENT_KEYS: Final = frozenset(
    {
        "id",
        "actor",
        "verb",
        "object",
        "result",
        "context",
        "timestamp",
        "stored",
        "authority",
        "version",
        "attachments",
    }
)
_INTERACTION_KEYS: Final = ("interactionType", "correctResponsesPattern", *_COMPONENT_LISTS)
_COMPONENT_KEYS: Final = frozenset({"id", "description"})
_STATEMENT_REF_KEYS: Final = frozenset({"objectType", "id"})
_SCORE_KEYS: Final = frozenset({"scaled", "raw", "min", "max"})
_CONTEXT_ONLY_20: Final = frozenset({"contextAgents", "contextGroups"})
_CONTEXT_ACTIVITIES_KEYS: Final = frozenset({"parent", "grouping", "category", "other"})
_CONTEXT_AGENT_KEYS: Final = frozenset({"objectType", "agent", "relevantTypes"})
_CONTEXT_GROUP_KEYS: Final = frozenset({"objectType", "group", "relevantTypes"})
_ATTACHMENT_KEYS: Final = frozenset(
    {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}
)

# Small caches of strings already known to be valid (verb ids, language tags and
# homePages repeat across statements). Bounded by clearing when full.
_CACHE_LIMIT: Final = 4096
_GOOD_IRIS: set[str] = set()
_GOOD_TAGS: set[str] = set()


# ------------------------------------------------------------------------ primitives


def _fail(path: str, message: str) -> XAPIValidationError:
    return XAPIValidationError(path, message)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _want_object(value: object, path: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(value)}")
    return value


def _want_array(value: object, path: str) -> list[Any]:
    if type(value) is not list:
        raise _fail(path, f"must be an array, not {_type_name(value)}")
    return value


def _want_string(value: object, path: str) -> str:
    if type(value) is not str:
        raise _fail(path, f"must be a string, not {_type_name(value)}")
    return value


def _check_keys(raw: dict[str, Any], allowed: frozenset[str], path: str) -> None:
    if allowed.issuperset(raw):
        return
    for key in raw:
        if key not in allowed:
            raise _fail(f"{path}.{key}", "is not a property allowed here")


def validate_iri(value: object, path: str) -> str:
    """An IRI (or IRL): a scheme and no characters RFC 3987 forbids; returns it."""
    if type(value) is not str:
        raise _fail(path, f"must be an IRI string, not {_type_name(value)}")
    if value in _GOOD_IRIS:
        return value
    if _IRI_RE.fullmatch(value) is None:
        if not value:
            raise _fail(path, "must be an IRI, not the empty string")
        if _SCHEME_RE.match(value) is None:
            raise _fail(path, f"{value!r} is not an IRI: it has no scheme")
        raise _fail(path, f"{value!r} is not a valid IRI")
    if "%" in value and _BAD_PERCENT_RE.search(value):
        raise _fail(path, f"{value!r} is not a valid IRI: bad percent-encoding")
    if len(_GOOD_IRIS) >= _CACHE_LIMIT:
        _GOOD_IRIS.clear()
    _GOOD_IRIS.add(value)
    return value


def is_language_tag(value: object) -> bool:
    """Whether ``value`` is a syntactically valid RFC 5646 language tag."""
    if type(value) is not str:
        return False
    if value in _GOOD_TAGS:
        return True
    if _LANGTAG_RE.fullmatch(value) is None:
        return False
    if len(_GOOD_TAGS) >= _CACHE_LIMIT:
        _GOOD_TAGS.clear()
    _GOOD_TAGS.add(value)
    return True


def validate_language_tag(value: object, path: str) -> str:
    """An RFC 5646 language tag (syntax only); returns it."""
    if type(value) is not str:
        raise _fail(path, f"must be a language tag string, not {_type_name(value)}")
    if not is_language_tag(value):
        raise _fail(path, f"{value!r} is not an RFC 5646 language tag")
    return value


def validate_language_map(value: object, path: str) -> dict[str, str]:
    """A language map: RFC 5646 tags to strings (``{"zh-CN": "通过"}``); returns a copy."""
    if type(value) is not dict:
        raise _fail(path, f"must be a language map object, not {_type_name(value)}")
    good = _GOOD_TAGS
    for tag, text in value.items():
        if tag not in good and not is_language_tag(tag):
            raise _fail(f"{path}.{tag}", f"{tag!r} is not an RFC 5646 language tag")
        if type(text) is not str:
            raise _fail(f"{path}.{tag}", f"must be a string, not {_type_name(text)}")
    return dict(value)


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a UUID in standard string form, RFC 4122 variant."""
    return type(value) is str and _UUID_RE.fullmatch(value) is not None


def validate_uuid(value: object, path: str) -> str:
    """A UUID in standard string form (any case, RFC 4122 variant); returns it."""
    if type(value) is not str:
        raise _fail(path, f"must be a UUID string, not {_type_name(value)}")
    if _UUID_RE.fullmatch(value) is None:
        raise _fail(path, f"{value!r} is not a UUID in standard form (RFC 4122 variant)")
    return value


def _copy_json(value: Any) -> Any:
    t = type(value)
    if t is dict:
        return {k: _copy_json(v) for k, v in value.items()}
    if t is list:
        return [_copy_json(v) for v in value]
    return value


def validate_extensions(value: object, path: str) -> dict[str, Any]:
    """An extensions map: IRI keys, any JSON values (null included); returns a deep copy."""
    if type(value) is not dict:
        raise _fail(path, f"must be an extensions object, not {_type_name(value)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        validate_iri(key, f'{path}["{key}"]')
        t = type(item)
        out[key] = _copy_json(item) if t is dict or t is list else item
    return out


# ----------------------------------------------------------------- durations & times


def _duration_match(value: str) -> re.Match[str] | None:
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        return None
    # ISO 8601: only the lowest-order component present may have a decimal fraction.
    parts = [p for p in match.groups() if p is not None]
    for part in parts[:-1]:
        if "." in part or "," in part:
            return None
    return match


def validate_duration(value: object, path: str) -> str:
    """An ISO 8601 duration (``PT4H35M59.14S``, ``P4W``); returns it."""
    if type(value) is not str:
        raise _fail(path, f"must be an ISO 8601 duration string, not {_type_name(value)}")
    if _duration_match(value) is None:
        raise _fail(path, f"{value!r} is not an ISO 8601 duration")
    return value


def parse_duration(value: str) -> float:
    """Seconds in an ISO 8601 duration; a year counts 365 days and a month 30 days."""
    match = _duration_match(value) if type(value) is str else None
    if match is None:
        raise _fail("$", f"{value!r} is not an ISO 8601 duration")
    total = 0.0
    for unit, seconds in _DURATION_UNITS:
        part = match.group(unit)
        if part is not None:
            total += float(part.replace(",", ".")) * seconds
    return total


def _timestamp_from_match(match: re.Match[str], value: str) -> datetime:
    """The instant of a matched timestamp (not yet converted to UTC).

    It must exist in UTC too: ``9999-12-31T23:59:59-23:00`` is in the year 10000 and
    ``0001-01-01T00:00:00+23:00`` in the year 0, which no datetime (or database)
    holds, so both are refused rather than failing later.
    """
    try:
        moment = _moment_from_match(match, value)
        moment.astimezone(UTC)
    except OverflowError:
        raise _fail(
            "$", f"{value!r} is out of range: in UTC it falls outside the years 1 to 9999"
        ) from None
    return moment


def _moment_from_match(match: re.Match[str], value: str) -> datetime:
    g = match.group
    if g("tzs") == "-" and g("tzh") == "00" and g("tzm") in (None, "00"):
        raise _fail("$", f"{value!r} has the offset -00:00, which means an unknown time zone")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass  # leap seconds, long fractions, lowercase designators: parsed below
    second = int(g("s") or 0)
    fraction = g("f") or ""
    micro = int((fraction + "000000")[:6]) if fraction else 0
    leap = second == 60
    try:
        tz: timezone = UTC
        if g("tzs") is not None:
            hours, minutes = int(g("tzh")), int(g("tzm") or 0)
            if hours > 23 or minutes > 59:
                raise ValueError("time zone offset out of range")
            delta = timedelta(hours=hours, minutes=minutes)
            tz = timezone(-delta if g("tzs") == "-" else delta)
        moment = datetime(
            int(g("y")),
            int(g("mo")),
            int(g("d")),
            int(g("h")),
            int(g("mi")),
            59 if leap else second,
            micro,
            tzinfo=tz,
        )
    except (ValueError, OverflowError) as exc:
        raise _fail("$", f"{value!r} is not a valid date-time: {exc}") from None
    if leap:
        moment += timedelta(seconds=1)
    return moment


def parse_timestamp(value: str) -> datetime:
    """A UTC-aware datetime from an ISO 8601 / RFC 3339 timestamp with a time zone."""
    if type(value) is not str:
        raise _fail("$", f"a timestamp must be a string, not {_type_name(value)}")
    match = _TS_ISO_RE.fullmatch(value)
    if match is None:
        raise _fail("$", f"{value!r} is not an ISO 8601 date-time with a time zone")
    return _timestamp_from_match(match, value).astimezone(UTC)


def validate_timestamp(value: object, path: str, *, rfc3339: bool = False) -> str:
    """A timestamp with a time zone: ISO 8601 (1.0.3) or strictly RFC 3339 (2.0)."""
    if type(value) is not str:
        raise _fail(path, f"must be a timestamp string, not {_type_name(value)}")
    match = _TS_ISO_RE.fullmatch(value)
    if match is None or (rfc3339 and _TS_RFC3339_RE.fullmatch(value) is None):
        kind = "an RFC 3339" if rfc3339 else "an ISO 8601"
        raise _fail(path, f"{value!r} is not {kind} date-time with a time zone")
    try:
        _timestamp_from_match(match, value)
    except XAPIValidationError as exc:
        raise _fail(path, exc.message) from None
    return value


# -------------------------------------------------------------------- agents & groups


def _account(raw: object, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    if "homePage" not in raw:
        raise _fail(f"{path}.homePage", "is required")
    if "name" not in raw:
        raise _fail(f"{path}.name", "is required")
    for key, value in raw.items():
        if key == "homePage":
            validate_iri(value, path + ".homePage")
        elif key == "name":
            if type(value) is not str:
                raise _fail(path + ".name", f"must be a string, not {_type_name(value)}")
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    return dict(raw)


def _agent(raw: object, path: str) -> dict[str, Any]:
    """An Agent (objectType absent or ``Agent``)."""
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    out: dict[str, Any] = {}
    count = 0
    for key, value in raw.items():
        if _ifi(key, value, path, out):
            count += 1
        elif key == "objectType":
            if value != "Agent":
                if value == "Group":
                    raise _fail(
                        path + ".objectType", "must be 'Agent': a Group is not allowed here"
                    )
                raise _fail(path + ".objectType", f"must be 'Agent', not {value!r}")
            out[key] = value
        elif key == "name":
            if type(value) is not str:
                raise _fail(path + ".name", f"must be a string, not {_type_name(value)}")
            out[key] = value
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    if count != 1:
        raise _fail(
            path,
            "an Agent must have exactly one inverse functional identifier "
            f"(mbox, mbox_sha1sum, openid or account), not {count}",
        )
    return out


def _group(raw: dict[str, Any], path: str) -> dict[str, Any]:
    """A Group (objectType ``Group`` already checked): anonymous or identified."""
    out: dict[str, Any] = {}
    count = 0
    for key, value in raw.items():
        if _ifi(key, value, path, out):
            count += 1
        elif key == "objectType":
            out[key] = value
        elif key == "name":
            if type(value) is not str:
                raise _fail(path + ".name", f"must be a string, not {_type_name(value)}")
            out[key] = value
        elif key == "member":
            member_path = path + ".member"
            if type(value) is not list:
                raise _fail(member_path, f"must be an array, not {_type_name(value)}")
            members = []
            for index, member in enumerate(value):
                item_path = f"{member_path}[{index}]"
                if type(member) is dict and member.get("objectType") == "Group":
                    raise _fail(
                        item_path + ".objectType", "Group members must be Agents, not Groups"
                    )
                members.append(_agent(member, item_path))
            out[key] = members
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    if count > 1:
        raise _fail(
            path,
            f"an identified Group must have exactly one inverse functional identifier, not {count}",
        )
    if count == 0 and not out.get("member"):
        raise _fail(path + ".member", "an anonymous Group must list at least one member")
    return out


def _actor(raw: object, path: str, *, allow_group: bool = True) -> dict[str, Any]:
    """An Agent or, if ``allow_group``, a Group (decided by objectType)."""
    actor = _want_object(raw, path)
    object_type = actor.get("objectType", _MISSING)
    if object_type == "Group":
        if not allow_group:
            raise _fail(f"{path}.objectType", "must be 'Agent': a Group is not allowed here")
        return _group(actor, path)
    if object_type is not _MISSING and object_type != "Agent":
        expected = "'Agent' or 'Group'" if allow_group else "'Agent'"
        raise _fail(f"{path}.objectType", f"must be {expected}, not {object_type!r}")
    return _agent(actor, path)


def validate_agent(
    raw: object, *, path: str, version: str = "1.0.3", allow_group: bool = True
) -> dict[str, Any]:
    """An Agent or Group (e.g. the ``agent`` query parameter); returns a validated copy."""
    del version  # Agents and Groups are the same in 1.0.x and 2.0.
    return _actor(raw, path, allow_group=allow_group)


# ------------------------------------------------------------------ verbs & activities


def _verb(raw: object, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    if "id" not in raw:
        raise _fail(path + ".id", "is required")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "id":
            out[key] = validate_iri(value, path + ".id")
        elif key == "display":
            out[key] = validate_language_map(value, path + ".display")
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    return out


def _components(raw: object, path: str) -> list[dict[str, Any]]:
    items = _want_array(raw, path)
    seen: set[str] = set()
    out = []
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        component = _want_object(item, item_path)
        _check_keys(component, _COMPONENT_KEYS, item_path)
        component_id = component.get("id", _MISSING)
        if component_id is _MISSING:
            raise _fail(f"{item_path}.id", "is required")
        _want_string(component_id, f"{item_path}.id")
        if component_id in seen:
            raise _fail(f"{item_path}.id", f"{component_id!r} is not distinct within the list")
        seen.add(component_id)
        copy = dict(component)
        description = component.get("description", _MISSING)
        if description is not _MISSING:
            copy["description"] = validate_language_map(description, f"{item_path}.description")
        out.append(copy)
    return out


def _definition(raw: object, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    out: dict[str, Any] = {}
    interaction = False
    for key, value in raw.items():
        if key == "name" or key == "description":
            out[key] = validate_language_map(value, f"{path}.{key}")
        elif key == "type" or key == "moreInfo":
            out[key] = validate_iri(value, f"{path}.{key}")
        elif key == "extensions":
            out[key] = validate_extensions(value, path + ".extensions")
        elif key in _INTERACTION_KEYS:
            interaction = True
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    if interaction:
        _interaction(raw, path, out)
    return out


def _activity(raw: object, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    if "id" not in raw:
        raise _fail(path + ".id", "is required")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "id":
            out[key] = validate_iri(value, path + ".id")
        elif key == "objectType":
            if value != "Activity":
                raise _fail(path + ".objectType", f"must be 'Activity', not {value!r}")
            out[key] = value
        elif key == "definition":
            out[key] = _definition(value, path + ".definition")
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    return out


def _statement_ref(raw: dict[str, Any], path: str) -> dict[str, Any]:
    _check_keys(raw, _STATEMENT_REF_KEYS, path)
    if raw.get("objectType") != "StatementRef":
        raise _fail(f"{path}.objectType", "must be 'StatementRef'")
    ref_id = raw.get("id", _MISSING)
    if ref_id is _MISSING:
        raise _fail(f"{path}.id", "is required")
    validate_uuid(ref_id, f"{path}.id")
    return dict(raw)


def _object(raw: object, path: str, v2: bool, substatement: bool) -> dict[str, Any]:
    obj = _want_object(raw, path)
    object_type = obj.get("objectType", _MISSING)
    if object_type is _MISSING or object_type == "Activity":
        return _activity(obj, path)
    if object_type == "Agent":
        return _agent(obj, path)
    if object_type == "Group":
        return _group(obj, path)
    if object_type == "StatementRef":
        return _statement_ref(obj, path)
    if object_type == "SubStatement":
        if substatement:
            raise _fail(f"{path}.objectType", "a SubStatement cannot contain a SubStatement")
        return _statement(obj, path, v2, True)
    raise _fail(
        f"{path}.objectType",
        "must be 'Activity', 'Agent', 'Group', 'StatementRef' or 'SubStatement', "
        f"not {object_type!r}",
    )


# -------------------------------------------------------------------- result & context


def _score(raw: object, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    for key, value in raw.items():
        if key not in _SCORE_KEYS:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
        t = type(value)
        if t is not int and t is not float:
            raise _fail(f"{path}.{key}", f"must be a number, not {_type_name(value)}")
    scaled = raw.get("scaled")
    if scaled is not None and not -1 <= scaled <= 1:
        raise _fail(path + ".scaled", f"must be between -1 and 1, not {scaled!r}")
    low, high, score = raw.get("min"), raw.get("max"), raw.get("raw")
    if low is not None and high is not None and low > high:
        raise _fail(path + ".min", f"must not be greater than max ({low!r} > {high!r})")
    if score is not None:
        if low is not None and score < low:
            raise _fail(path + ".raw", f"must not be less than min ({score!r} < {low!r})")
        if high is not None and score > high:
            raise _fail(path + ".raw", f"must not exceed max ({score!r} > {high!r})")
    return dict(raw)


def _result(raw: object, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "score":
            out[key] = _score(value, path + ".score")
        elif key == "success" or key == "completion":
            if value is not True and value is not False:
                raise _fail(f"{path}.{key}", f"must be a boolean, not {_type_name(value)}")
            out[key] = value
        elif key == "duration":
            out[key] = validate_duration(value, path + ".duration")
        elif key == "response":
            if type(value) is not str:
                raise _fail(path + ".response", f"must be a string, not {_type_name(value)}")
            out[key] = value
        elif key == "extensions":
            out[key] = validate_extensions(value, path + ".extensions")
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    return out


def _context_activities(raw: object, path: str) -> dict[str, list[dict[str, Any]]]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    out: dict[str, list[dict[str, Any]]] = {}
    for key, value in raw.items():
        if key not in _CONTEXT_ACTIVITIES_KEYS:
            raise _fail(
                f"{path}.{key}", "is not a context type (parent, grouping, category, other)"
            )
        key_path = f"{path}.{key}"
        if type(value) is list:
            out[key] = [_activity(item, f"{key_path}[{i}]") for i, item in enumerate(value)]
        elif type(value) is dict:
            out[key] = [_activity(value, key_path)]
        else:
            raise _fail(
                key_path, f"must be an Activity or an array of Activities, not {_type_name(value)}"
            )
    return out


def _relevant_types(raw: object, path: str) -> list[str]:
    items = _want_array(raw, path)
    if not items:
        raise _fail(path, "must contain at least one IRI")
    for index, item in enumerate(items):
        validate_iri(item, f"{path}[{index}]")
    return list(items)


def _context_agents(raw: object, path: str) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(_want_array(raw, path)):
        item_path = f"{path}[{index}]"
        entry = _want_object(item, item_path)
        _check_keys(entry, _CONTEXT_AGENT_KEYS, item_path)
        if entry.get("objectType", _MISSING) != "contextAgent":
            raise _fail(f"{item_path}.objectType", "must be 'contextAgent'")
        agent = entry.get("agent", _MISSING)
        if agent is _MISSING:
            raise _fail(f"{item_path}.agent", "is required")
        copy = dict(entry)
        copy["agent"] = _actor(agent, f"{item_path}.agent", allow_group=False)
        types = entry.get("relevantTypes", _MISSING)
        if types is not _MISSING:
            copy["relevantTypes"] = _relevant_types(types, f"{item_path}.relevantTypes")
        out.append(copy)
    return out


def _context_groups(raw: object, path: str) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(_want_array(raw, path)):
        item_path = f"{path}[{index}]"
        entry = _want_object(item, item_path)
        _check_keys(entry, _CONTEXT_GROUP_KEYS, item_path)
        if entry.get("objectType", _MISSING) != "contextGroup":
            raise _fail(f"{item_path}.objectType", "must be 'contextGroup'")
        group = entry.get("group", _MISSING)
        if group is _MISSING:
            raise _fail(f"{item_path}.group", "is required")
        group_path = f"{item_path}.group"
        group_obj = _want_object(group, group_path)
        if group_obj.get("objectType", _MISSING) != "Group":
            raise _fail(f"{group_path}.objectType", "must be 'Group'")
        copy = dict(entry)
        copy["group"] = _group(group_obj, group_path)
        types = entry.get("relevantTypes", _MISSING)
        if types is not _MISSING:
            copy["relevantTypes"] = _relevant_types(types, f"{item_path}.relevantTypes")
        out.append(copy)
    return out


def _context(raw: object, path: str, v2: bool, object_is_activity: bool) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "registration":
            out[key] = validate_uuid(value, path + ".registration")
        elif key == "contextActivities":
            out[key] = _context_activities(value, path + ".contextActivities")
        elif key == "instructor":
            out[key] = _actor(value, path + ".instructor")
        elif key == "team":
            team_path = path + ".team"
            team = _want_object(value, team_path)
            if team.get("objectType", _MISSING) != "Group":
                raise _fail(team_path + ".objectType", "must be 'Group': a team is a Group")
            out[key] = _group(team, team_path)
        elif key == "revision" or key == "platform":
            _want_string(value, f"{path}.{key}")
            if not object_is_activity:
                raise _fail(f"{path}.{key}", "is only allowed when the object is an Activity")
            out[key] = value
        elif key == "language":
            out[key] = validate_language_tag(value, path + ".language")
        elif key == "statement":
            statement_path = path + ".statement"
            out[key] = _statement_ref(_want_object(value, statement_path), statement_path)
        elif key == "extensions":
            out[key] = validate_extensions(value, path + ".extensions")
        elif key == "contextAgents" and v2:
            out[key] = _context_agents(value, path + ".contextAgents")
        elif key == "contextGroups" and v2:
            out[key] = _context_groups(value, path + ".contextGroups")
        elif key in _CONTEXT_ONLY_20:
            raise _fail(f"{path}.{key}", "is only allowed in xAPI 2.0 statements")
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    return out


# ------------------------------------------------------------ authority & attachments


def _authority(raw: object, path: str) -> dict[str, Any]:
    authority = _actor(raw, path)
    if authority.get("objectType") == "Group":
        if any(key in authority for key in ("mbox", "mbox_sha1sum", "openid", "account")):
            raise _fail(
                path, "a Group authority (OAuth) must be anonymous: application and user Agents"
            )
        members = authority.get("member") or []
        if len(members) != 2:
            raise _fail(
                f"{path}.member",
                "a Group authority (OAuth) must have exactly two Agents: application and user",
            )
    return authority


def _attachments(raw: object, path: str) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(_want_array(raw, path)):
        item_path = f"{path}[{index}]"
        attachment = _want_object(item, item_path)
        _check_keys(attachment, _ATTACHMENT_KEYS, item_path)
        for key in ("usageType", "display", "contentType", "length", "sha2"):
            if key not in attachment:
                raise _fail(f"{item_path}.{key}", "is required")
        copy = dict(attachment)
        usage_type = validate_iri(attachment["usageType"], f"{item_path}.usageType")
        copy["display"] = validate_language_map(attachment["display"], f"{item_path}.display")
        description = attachment.get("description", _MISSING)
        if description is not _MISSING:
            copy["description"] = validate_language_map(description, f"{item_path}.description")
        content_type = _want_string(attachment["contentType"], f"{item_path}.contentType")
        if "/" not in content_type:
            raise _fail(
                f"{item_path}.contentType", f"{content_type!r} is not an Internet media type"
            )
        length = attachment["length"]
        if type(length) is not int or length < 0:
            raise _fail(f"{item_path}.length", "must be a non-negative integer")
        sha2 = _want_string(attachment["sha2"], f"{item_path}.sha2")
        if _SHA2_RE.fullmatch(sha2) is None:
            raise _fail(f"{item_path}.sha2", "must be a hex-encoded SHA-2 digest")
        file_url = attachment.get("fileUrl", _MISSING)
        if file_url is not _MISSING:
            validate_iri(file_url, f"{item_path}.fileUrl")
        if usage_type == SIGNATURE_USAGE_TYPE and content_type != "application/octet-stream":
            raise _fail(
                f"{item_path}.contentType",
                "a signature attachment must have contentType 'application/octet-stream'",
            )
        out.append(copy)
    return out


# -------------------------------------------------------------------------- statement


def _statement(raw: object, path: str, v2: bool, substatement: bool) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _fail(path, f"must be an object, not {_type_name(raw)}")
    for key in ("actor", "verb", "object"):
        if key not in raw:
            raise _fail(f"{path}.{key}", "is required")
    if substatement and raw.get("objectType") != "SubStatement":
        raise _fail(path + ".objectType", "must be 'SubStatement'")
    validated_object = _object(raw["object"], path + ".object", v2, substatement)
    if (
        not substatement
        and validated_object.get("objectType") != "StatementRef"
        and type(raw["verb"]) is dict
        and raw["verb"].get("id") == VOIDED_VERB
    ):
        raise _fail(
            path + ".object.objectType", "the object of a voiding statement must be a StatementRef"
        )
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "actor":
            out[key] = _actor(value, path + ".actor")
        elif key == "verb":
            out[key] = _verb(value, path + ".verb")
        elif key == "object":
            out[key] = validated_object
        elif key == "result":
            out[key] = _result(value, path + ".result")
        elif key == "context":
            is_activity = validated_object.get("objectType", "Activity") == "Activity"
            out[key] = _context(value, path + ".context", v2, is_activity)
        elif key == "timestamp":
            out[key] = validate_timestamp(value, path + ".timestamp", rfc3339=v2)
        elif key == "attachments":
            out[key] = _attachments(value, path + ".attachments")
        elif substatement:
            if key == "objectType":
                out[key] = value
            elif key in _STATEMENT_KEYS:
                raise _fail(f"{path}.{key}", "is not allowed in a SubStatement")
            else:
                raise _fail(f"{path}.{key}", "is not a property allowed here")
        elif key == "id":
            out[key] = validate_uuid(value, path + ".id")
        elif key == "stored":
            out[key] = validate_timestamp(value, path + ".stored", rfc3339=v2)
        elif key == "authority":
            out[key] = _authority(value, path + ".authority")
        elif key == "version":
            _want_string(value, path + ".version")
            if (_VERSION_20_RE if v2 else _VERSION_10_RE).fullmatch(value) is None:
                expected = "1.0, 1.0.x or 2.0.x" if v2 else "1.0 or 1.0.x"
                raise _fail(path + ".version", f"must be {expected}, not {value!r}")
            out[key] = value
        else:
            raise _fail(f"{path}.{key}", "is not a property allowed here")
    return out


def _ifi(key: str, value: Any, path: str, out: dict[str, Any]) -> bool:
    """Validates ``key`` if it is an IFI property; returns whether it was one."""
    if key == "account":
        out[key] = _account(value, path + ".account")
    elif key == "mbox":
        if type(value) is not str:
            raise _fail(path + ".mbox", f"must be a mailto IRI string, not {_type_name(value)}")
        if _MAILTO_RE.fullmatch(value) is None:
            raise _fail(path + ".mbox", f"{value!r} is not a mailto IRI (mailto:name@domain)")
        out[key] = value
    elif key == "mbox_sha1sum":
        if type(value) is not str:
            raise _fail(path + ".mbox_sha1sum", f"must be a string, not {_type_name(value)}")
        if _SHA1_RE.fullmatch(value) is None:
            raise _fail(path + ".mbox_sha1sum", "must be a hex-encoded SHA-1 (40 hex digits)")
        out[key] = value
    elif key == "openid":
        out[key] = validate_iri(value, path + ".openid")
    else:
        return False
    return True


def _interaction(definition: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    """The interaction properties of an Activity Definition, copied into ``out``."""
    interaction_type = definition.get("interactionType", _MISSING)
    if interaction_type is _MISSING:
        key = next(k for k in _INTERACTION_KEYS if k in definition)
        raise _fail(path + ".interactionType", f"is required when {key!r} is used (interaction)")
    if type(interaction_type) is not str or interaction_type not in INTERACTION_TYPES:
        raise _fail(
            path + ".interactionType",
            f"must be one of {', '.join(sorted(INTERACTION_TYPES))}, not {interaction_type!r}",
        )
    out["interactionType"] = interaction_type
    patterns = definition.get("correctResponsesPattern", _MISSING)
    if patterns is not _MISSING:
        pattern_path = path + ".correctResponsesPattern"
        items = _want_array(patterns, pattern_path)
        for index, pattern in enumerate(items):
            _want_string(pattern, f"{pattern_path}[{index}]")
        out["correctResponsesPattern"] = list(items)
    allowed = _ALLOWED_COMPONENTS.get(interaction_type, frozenset())
    for key in _COMPONENT_LISTS:
        value = definition.get(key, _MISSING)
        if value is _MISSING:
            continue
        if key not in allowed:
            raise _fail(
                f"{path}.{key}", f"is not an interaction component list of {interaction_type!r}"
            )
        out[key] = _components(value, f"{path}.{key}")


def validate_statement(
    raw: object, *, version: str = "1.0.3", path: str = "$", substatement: bool = False
) -> dict[str, Any]:
    """Validates a statement (or SubStatement) per xAPI 1.0.3, or 2.0.0 for ``2.0.x``.

    Returns a normalised deep copy (``contextActivities`` values become arrays).
    Raises :class:`XAPIValidationError` at the first broken rule.
    """
    return _statement(raw, path, version.startswith("2."), substatement)
