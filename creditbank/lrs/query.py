"""Parsing GET /xapi/statements parameters into a ``StatementQuery`` and ``more`` cursors.

HTTP-agnostic: the router hands over the raw ``(name, value)`` pairs of the
query string. Unknown or repeated parameters, bad values and combinations the
spec forbids are ``BadRequest`` (400).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import orjson

from creditbank.config import LrsSettings
from creditbank.errors import BadRequest
from creditbank.kit.strict import INT64_MAX, StrictInputError
from creditbank.kit.strict import loads as strict_loads
from creditbank.lrs.keys import agent_key
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.validate import parse_timestamp, validate_agent, validate_iri

Format = Literal["exact", "ids", "canonical"]

SINGLE_PARAMS = frozenset({"statementId", "voidedStatementId"})
FILTER_PARAMS = frozenset(
    {
        "agent",
        "verb",
        "activity",
        "registration",
        "related_activities",
        "related_agents",
        "since",
        "until",
        "limit",
        "ascending",
    }
)
COMMON_PARAMS = frozenset({"format", "attachments"})
ALL_PARAMS = SINGLE_PARAMS | FILTER_PARAMS | COMMON_PARAMS | {"more"}


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after ``position``; never beyond ``bound``."""

    position: int
    bound: int


@dataclass(frozen=True)
class StatementQuery:
    """A parsed statements GET: a single statement or a filtered page."""

    statement_id: uuid.UUID | None = None
    voided_statement_id: uuid.UUID | None = None
    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_agents: bool = False
    related_activities: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    ascending: bool = False
    format: Format = "exact"
    attachments: bool = False
    cursor: Cursor | None = None
    #: The filter parameters as sent, to rebuild ``more`` links.
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_single(self) -> bool:
        return self.statement_id is not None or self.voided_statement_id is not None

    def with_cursor(self, cursor: Cursor) -> StatementQuery:
        return replace(self, cursor=cursor)


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise BadRequest(f"{name} must be true or false", code="invalid_parameter")


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        parsed = uuid.UUID(value)
    except ValueError as exc:
        raise BadRequest(f"{name} is not a UUID", code="invalid_parameter") from exc
    if len(value) != 36:
        raise BadRequest(f"{name} is not a UUID in its canonical form", code="invalid_parameter")
    return parsed


def _timestamp(name: str, value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except (XAPIValidationError, ValueError) as exc:
        raise BadRequest(f"{name} is not an ISO 8601 timestamp", code="invalid_parameter") from exc


def _iri(name: str, value: str) -> str:
    try:
        validate_iri(value, name)
    except XAPIValidationError as exc:
        raise BadRequest(f"{name} is not an IRI: {exc.message}", code="invalid_parameter") from exc
    return value


def _agent(value: str) -> str:
    try:
        raw = strict_loads(value.encode(), max_depth=8)
    except StrictInputError as exc:
        raise BadRequest(f"agent is not acceptable JSON: {exc}", code="invalid_parameter") from exc
    if not isinstance(raw, dict):
        raise BadRequest("agent must be a JSON object", code="invalid_parameter")
    try:
        agent = validate_agent(raw, path="agent", allow_group=True)
    except XAPIValidationError as exc:
        raise BadRequest(f"{exc.path}: {exc.message}", code="invalid_parameter") from exc
    key = agent_key(agent)
    if key is None:
        raise BadRequest(
            "agent must have an inverse functional identifier", code="invalid_parameter"
        )
    return key


def _unique(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in ALL_PARAMS:
            raise BadRequest(f"unknown parameter {name!r}", code="unknown_parameter")
        if name in params:
            raise BadRequest(f"parameter {name!r} given more than once", code="repeated_parameter")
        params[name] = value
    return params


def parse_query(pairs: Sequence[tuple[str, str]], settings: LrsSettings) -> StatementQuery:
    """The query of ``GET /xapi/statements`` from its raw parameters."""
    params = _unique(pairs)
    if "more" in params:
        if len(params) > 1:
            raise BadRequest("more cannot be combined with other parameters", code="invalid_more")
        return decode_more(params["more"], settings)
    return _parse_params(params, settings)


def _parse_params(params: dict[str, str], settings: LrsSettings) -> StatementQuery:
    values: dict[str, Any] = {}
    fmt = params.get("format", "exact")
    if fmt not in ("exact", "ids", "canonical"):
        raise BadRequest("format must be exact, ids or canonical", code="invalid_parameter")
    values["format"] = fmt
    if "attachments" in params:
        values["attachments"] = _bool("attachments", params["attachments"])

    singles = SINGLE_PARAMS & params.keys()
    if singles:
        if len(singles) > 1:
            raise BadRequest(
                "statementId and voidedStatementId cannot be used together",
                code="invalid_parameter",
            )
        extra = params.keys() - singles - COMMON_PARAMS
        if extra:
            raise BadRequest(
                f"{next(iter(singles))} cannot be combined with {sorted(extra)}",
                code="invalid_parameter",
            )
        if "statementId" in params:
            values["statement_id"] = _uuid("statementId", params["statementId"])
        else:
            values["voided_statement_id"] = _uuid("voidedStatementId", params["voidedStatementId"])
        return StatementQuery(**values)

    if "agent" in params:
        values["agent"] = _agent(params["agent"])
    if "verb" in params:
        values["verb"] = _iri("verb", params["verb"])
    if "activity" in params:
        values["activity"] = _iri("activity", params["activity"])
    if "registration" in params:
        values["registration"] = str(_uuid("registration", params["registration"]))
    for name in ("related_agents", "related_activities", "ascending"):
        if name in params:
            values[name] = _bool(name, params[name])
    if "since" in params:
        values["since"] = _timestamp("since", params["since"])
    if "until" in params:
        values["until"] = _timestamp("until", params["until"])
    limit = settings.default_limit
    if "limit" in params:
        raw = params["limit"]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise BadRequest("limit must be a non-negative integer", code="invalid_parameter")
        limit = int(raw)
    if limit == 0 or limit > settings.max_limit:
        limit = settings.max_limit
    values["limit"] = limit
    values["params"] = params
    return StatementQuery(**values)


def encode_more(query: StatementQuery, cursor: Cursor) -> str:
    """The opaque ``more`` token of the page after ``cursor``."""
    token = orjson.dumps({"q": query.params, "p": cursor.position, "b": cursor.bound})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_more(token: str, settings: LrsSettings) -> StatementQuery:
    """The query and position a ``more`` token stands for."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        params = data["q"]
        position, bound = data["p"], data["b"]
        if not all(type(n) is int and 0 <= n <= INT64_MAX for n in (position, bound)):
            raise ValueError("position")
        cursor = Cursor(position=position, bound=bound)
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()
        ):
            raise TypeError("params")
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadRequest("invalid more token", code="invalid_more") from exc
    if params.keys() - FILTER_PARAMS - COMMON_PARAMS:
        raise BadRequest("invalid more token", code="invalid_more")
    return _parse_params(params, settings).with_cursor(cursor)
