"""Facts about one xAPI statement, as the rules read them (事实).

:func:`facts_from_statement` extracts them from a statement that the LRS has
already validated; numbers become ``Decimal`` from their text, never floats.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from creditbank.kit.credits import CONTEXT
from creditbank.rules.ast import InstitutionType
from creditbank.rules.types import DecimalText

__all__ = [
    "StatementFacts",
    "StatementFactsError",
    "describe_facts",
    "duration_seconds",
    "facts_from_statement",
]

SECONDS_PER_HOUR = Decimal(3600)


class StatementFactsError(ValueError):
    """A statement lacks something every evaluation needs (verb, timestamp)."""


class StatementFacts(BaseModel):
    """What the rules may read about a statement and the institution that sent it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement_id: str | None = Field(default=None, description="the statement's id")
    verb_id: str = Field(description="verb.id (an IRI)")
    activity_id: str | None = Field(
        default=None, description="object.id when the object is an Activity"
    )
    institution_key: str = Field(description="key of the sending institution")
    institution_type: InstitutionType = Field(description="type of the sending institution")
    accredited: bool = Field(description="whether the bank accredits the sending institution")
    scaled: DecimalText | None = Field(default=None, description="result.score.scaled")
    raw: DecimalText | None = Field(default=None, description="result.score.raw")
    success: bool | None = Field(default=None, description="result.success")
    completion: bool | None = Field(default=None, description="result.completion")
    duration_seconds: DecimalText | None = Field(
        default=None, description="result.duration in seconds"
    )
    timestamp: AwareDatetime = Field(description="timestamp (else stored), as sent")
    registration: str | None = Field(default=None, description="context.registration, lower case")
    context_extensions: dict[str, Any] = Field(
        default_factory=dict, description="context.extensions"
    )
    result_extensions: dict[str, Any] = Field(default_factory=dict, description="result.extensions")

    @property
    def duration_hours(self) -> Decimal | None:
        """``result.duration`` in hours, exact to 34 digits."""
        if self.duration_seconds is None:
            return None
        return CONTEXT.divide(self.duration_seconds, SECONDS_PER_HOUR)


def describe_facts() -> list[dict[str, str]]:
    """Name, JSON type and meaning of every fact, for rule authors."""
    schema = StatementFacts.model_json_schema()
    return [
        {
            "name": name,
            "type": _type_text(prop),
            "description": str(prop.get("description", "")),
        }
        for name, prop in schema["properties"].items()
    ]


def _type_text(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " | ".join(_type_text(option) for option in prop["anyOf"])
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    text = str(prop.get("type", "any"))
    return f"{text} ({prop['format']})" if "format" in prop else text


_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+(?:[.,]\d+)?)Y)?(?:(?P<Mo>\d+(?:[.,]\d+)?)M)?(?:(?P<W>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<D>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+(?:[.,]\d+)?)H)?(?:(?P<Mi>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<S>\d+(?:[.,]\d+)?)S)?)?$"
)
_UNIT_SECONDS = {
    "Y": 365 * 86400,
    "Mo": 30 * 86400,
    "W": 7 * 86400,
    "D": 86400,
    "H": 3600,
    "Mi": 60,
    "S": 1,
}


@lru_cache(maxsize=1024)  # a burst repeats the same few durations; a Decimal is immutable
def duration_seconds(value: str) -> Decimal:
    """Exact seconds of an ISO 8601 duration (a year is 365 days, a month 30, as the LRS)."""
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not an ISO 8601 duration")
    total = Decimal(0)
    for name, seconds in _UNIT_SECONDS.items():
        part = match.group(name)
        if part is not None:
            amount = Decimal(part.replace(",", "."))
            total = CONTEXT.add(total, CONTEXT.multiply(amount, Decimal(seconds)))
    return total


def _decimal(value: Any) -> Decimal | None:
    """A JSON number as ``Decimal`` from its shortest text (``0.82`` stays ``0.82``)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | float):
        try:
            result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:  # pragma: no cover - repr of a float always parses
            return None
        return result if result.is_finite() else None
    return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def facts_from_statement(
    statement_json: dict[str, Any],
    *,
    institution_key: str,
    institution_type: str,
    accredited: bool,
) -> StatementFacts:
    """The facts of a validated xAPI statement sent by the given institution.

    The timestamp is ``timestamp``, else ``stored``; one without a zone is read as
    UTC. Raises :class:`StatementFactsError` when there is no verb id or no time.
    """
    verb = _mapping(statement_json.get("verb")).get("id")
    if not isinstance(verb, str) or not verb:
        raise StatementFactsError("statement has no verb id")
    moment = _timestamp(statement_json.get("timestamp")) or _timestamp(statement_json.get("stored"))
    if moment is None:
        raise StatementFactsError("statement has neither timestamp nor stored")

    target = _mapping(statement_json.get("object"))
    activity_id = target.get("id") if target.get("objectType", "Activity") == "Activity" else None

    result = _mapping(statement_json.get("result"))
    score = _mapping(result.get("score"))
    duration = result.get("duration")
    seconds: Decimal | None = None
    if isinstance(duration, str):
        try:
            seconds = duration_seconds(duration)
        except ValueError:
            seconds = None

    context = _mapping(statement_json.get("context"))
    registration = context.get("registration")
    statement_id = statement_json.get("id")
    success = result.get("success")
    completion = result.get("completion")
    return StatementFacts(
        statement_id=statement_id if isinstance(statement_id, str) else None,
        verb_id=verb,
        activity_id=activity_id if isinstance(activity_id, str) else None,
        institution_key=institution_key,
        institution_type=InstitutionType(institution_type),
        accredited=accredited,
        scaled=_decimal(score.get("scaled")),
        raw=_decimal(score.get("raw")),
        success=success if isinstance(success, bool) else None,
        completion=completion if isinstance(completion, bool) else None,
        duration_seconds=seconds,
        timestamp=moment,
        registration=registration.lower() if isinstance(registration, str) else None,
        context_extensions=_mapping(context.get("extensions")),
        result_extensions=_mapping(result.get("extensions")),
    )
