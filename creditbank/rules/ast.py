"""The rule language: a typed tree of conditions and credit expressions.

Rules are data. A condition is a mapping with exactly one key naming its kind::

    all:
      - verb_in: [http://adlnet.gov/expapi/verbs/passed]
      - score_scaled_gte: "0.60"

``all`` / ``any`` / ``not`` combine conditions; every other kind is a leaf that reads
one fact of :class:`creditbank.rules.facts.StatementFacts` (or of the activity's
mapping in the institution catalog). Nothing is ever evaluated as code.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from creditbank.rules.types import Credits, DecimalText, Iri, PositiveDecimal

__all__ = [
    "AllOf",
    "AnyOf",
    "CompletionIs",
    "Condition",
    "CreditsExpr",
    "DurationGte",
    "ExtensionEquals",
    "ExtensionScope",
    "HoursGte",
    "InstitutionAccredited",
    "InstitutionType",
    "InstitutionTypeIn",
    "Not",
    "ObjectMapped",
    "PerHours",
    "RegistrationIn",
    "ScoreRawGte",
    "ScoreScaledGte",
    "SuccessIs",
    "TimestampWithin",
    "UnitCategory",
    "UnitCategoryIn",
    "UnitCredits",
    "VerbIn",
    "condition_kinds",
]


class UnitCategory(StrEnum):
    """Kinds of learning unit (认证单元类别)."""

    degree_course = "degree_course"  # 学历教育课程
    vocational_certificate = "vocational_certificate"  # 职业技能等级证书
    training = "training"  # 职业培训
    community = "community"  # 社区教育
    senior = "senior"  # 老年教育
    mooc = "mooc"  # 在线开放课程


class InstitutionType(StrEnum):
    """Kinds of institution (机构类型)."""

    degree = "degree"  # 学历教育机构 / 开放大学
    vocational = "vocational"  # 职业院校
    training = "training"  # 培训机构
    community = "community"  # 社区学院
    senior = "senior"  # 老年大学
    mooc = "mooc"  # 慕课平台


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    #: The YAML key naming this kind of condition.
    kind: ClassVar[str]


# ---------------------------------------------------------------- combinators


class AllOf(_Node):
    """True when every condition is true (an empty list is refused)."""

    kind: ClassVar[str] = "all"
    all: tuple[Condition, ...] = Field(min_length=1)


class AnyOf(_Node):
    """True when at least one condition is true."""

    kind: ClassVar[str] = "any"
    any: tuple[Condition, ...] = Field(min_length=1)


class Not(_Node):
    """True when the condition is false."""

    kind: ClassVar[str] = "not"
    not_: Condition = Field(alias="not")


# ---------------------------------------------------------------- leaves


class VerbIn(_Node):
    """The statement's verb id is one of these IRIs."""

    kind: ClassVar[str] = "verb_in"
    verb_in: tuple[Iri, ...] = Field(min_length=1)


class InstitutionTypeIn(_Node):
    """The sending institution is of one of these types."""

    kind: ClassVar[str] = "institution_type_in"
    institution_type_in: tuple[InstitutionType, ...] = Field(min_length=1)


class InstitutionAccredited(_Node):
    """The sending institution is (``true``) or is not (``false``) accredited."""

    kind: ClassVar[str] = "institution_accredited"
    institution_accredited: bool


class ObjectMapped(_Node):
    """The activity is (``true``) or is not mapped to a unit in the institution's catalog."""

    kind: ClassVar[str] = "object_mapped"
    object_mapped: bool


class UnitCategoryIn(_Node):
    """The unit the activity is mapped to has one of these categories (false if unmapped)."""

    kind: ClassVar[str] = "unit_category_in"
    unit_category_in: tuple[UnitCategory, ...] = Field(min_length=1)


class SuccessIs(_Node):
    """``result.success`` equals this value (false when the statement has none)."""

    kind: ClassVar[str] = "success_is"
    success_is: bool


class CompletionIs(_Node):
    """``result.completion`` equals this value (false when the statement has none)."""

    kind: ClassVar[str] = "completion_is"
    completion_is: bool


class ScoreScaledGte(_Node):
    """``result.score.scaled`` ≥ the threshold, inclusive (false when absent)."""

    kind: ClassVar[str] = "score_scaled_gte"
    score_scaled_gte: DecimalText

    @field_validator("score_scaled_gte")
    @classmethod
    def _in_range(cls, value: Any) -> Any:
        if not -1 <= value <= 1:
            raise ValueError("a scaled score threshold lies between -1 and 1")
        return value


class ScoreRawGte(_Node):
    """``result.score.raw`` ≥ the threshold, inclusive (false when absent)."""

    kind: ClassVar[str] = "score_raw_gte"
    score_raw_gte: DecimalText


class DurationGte(_Node):
    """``result.duration`` in hours ≥ the threshold (false when the statement has none)."""

    kind: ClassVar[str] = "duration_gte"
    duration_gte: DecimalText = Field(description="hours")


class HoursGte(_Node):
    """Recorded hours ≥ the threshold: ``result.duration``, else the mapping's hours."""

    kind: ClassVar[str] = "hours_gte"
    hours_gte: DecimalText


class Window(BaseModel):
    """A time window; ``from`` inclusive, ``until`` exclusive; either may be left out."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.from_ is None and self.until is None:
            raise ValueError("a window needs 'from', 'until' or both")
        if self.from_ is not None and self.until is not None and self.from_ >= self.until:
            raise ValueError("'from' must be before 'until'")
        return self

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` lies in the window."""
        if self.from_ is not None and moment < self.from_:
            return False
        return not (self.until is not None and moment >= self.until)


class TimestampWithin(_Node):
    """The statement's timestamp lies in the window."""

    kind: ClassVar[str] = "timestamp_within"
    timestamp_within: Window


class RegistrationIn(_Node):
    """``context.registration`` is one of these UUIDs (compared case-insensitively)."""

    kind: ClassVar[str] = "registration_in"
    registration_in: tuple[
        Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")],
        ...,
    ] = Field(min_length=1)

    @field_validator("registration_in")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(item.lower() for item in value)


class ExtensionScope(StrEnum):
    """Where an extension is read from."""

    context = "context"
    result = "result"


class ExtensionTest(BaseModel):
    """An extension key (an IRI) and the JSON value it must equal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Iri
    value: Any
    scope: ExtensionScope = ExtensionScope.context


class ExtensionEquals(_Node):
    """An extension of the statement's context (or result) equals a JSON value."""

    kind: ClassVar[str] = "extension_equals"
    extension_equals: ExtensionTest


LEAVES: tuple[type[_Node], ...] = (
    VerbIn,
    InstitutionTypeIn,
    InstitutionAccredited,
    ObjectMapped,
    UnitCategoryIn,
    SuccessIs,
    CompletionIs,
    ScoreScaledGte,
    ScoreRawGte,
    DurationGte,
    HoursGte,
    TimestampWithin,
    RegistrationIn,
    ExtensionEquals,
)
_NODES: tuple[type[_Node], ...] = (AllOf, AnyOf, Not, *LEAVES)
_KINDS: dict[str, type[_Node]] = {cls.kind: cls for cls in _NODES}


def condition_kinds() -> tuple[str, ...]:
    """Every condition kind, as written in YAML."""
    return tuple(_KINDS)


def _condition_tag(value: Any) -> str | None:
    """The kind of a condition: the one key of its mapping, or the model's kind."""
    if isinstance(value, _Node):
        return value.kind
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if key in _KINDS:
            return str(key)
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[VerbIn, Tag("verb_in")]
    | Annotated[InstitutionTypeIn, Tag("institution_type_in")]
    | Annotated[InstitutionAccredited, Tag("institution_accredited")]
    | Annotated[ObjectMapped, Tag("object_mapped")]
    | Annotated[UnitCategoryIn, Tag("unit_category_in")]
    | Annotated[SuccessIs, Tag("success_is")]
    | Annotated[CompletionIs, Tag("completion_is")]
    | Annotated[ScoreScaledGte, Tag("score_scaled_gte")]
    | Annotated[ScoreRawGte, Tag("score_raw_gte")]
    | Annotated[DurationGte, Tag("duration_gte")]
    | Annotated[HoursGte, Tag("hours_gte")]
    | Annotated[TimestampWithin, Tag("timestamp_within")]
    | Annotated[RegistrationIn, Tag("registration_in")]
    | Annotated[ExtensionEquals, Tag("extension_equals")],
    Discriminator(
        _condition_tag,
        custom_error_type="invalid_condition",
        custom_error_message=(
            "a condition is a mapping with exactly one key, one of: " + ", ".join(_KINDS)
        ),
    ),
]

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


# ---------------------------------------------------------------- credit expressions


class UnitCredits(BaseModel):
    """The catalog credits of the mapped unit (单元学分)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["unit_credits"] = "unit_credits"


class PerHours(BaseModel):
    """``credits`` per ``hours`` recorded, rounded down to ``step``, capped at the unit's credits.

    Hours come from ``result.duration``, else from the activity's mapping; a result
    of zero gives no outcome.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["per_hours"] = "per_hours"
    hours: PositiveDecimal = Field(description="hours of learning per block of credits")
    credits: Credits = Field(description="credits per block of hours")
    step: Credits = Field(description="round the result down to a multiple of this")

    @field_validator("step", "credits")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value


CreditsExpr = Annotated[UnitCredits | PerHours, Field(discriminator="kind")]
