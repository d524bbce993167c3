"""The standards format (标准数据格式): pydantic models of each YAML file of a set.

A standards set is a directory of seven files; each has a model here and the whole
set is :class:`StandardsSet`. Models are frozen and refuse unknown keys, so a typo
in a file is an error, not a silent default. References between files (unit codes,
levels, institutions, programmes) are checked by :func:`cross_reference_issues`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import date, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

from creditbank.rules.ast import Condition, CreditsExpr, InstitutionType, UnitCategory, UnitCredits
from creditbank.rules.types import Credits, DecimalText, Iri, LocalizedText

__all__ = [
    "FILES",
    "AccreditationScope",
    "AccumulationPolicy",
    "ActivityMapping",
    "AnyNOf",
    "Bilingual",
    "CapGroup",
    "ConversionRule",
    "ConversionSources",
    "ConversionTable",
    "Exemption",
    "Framework",
    "Institution",
    "InstitutionCatalog",
    "Level",
    "MatchKind",
    "Programme",
    "ProgrammeCredits",
    "RecognitionRule",
    "RecognitionRules",
    "SetMeta",
    "StandardsRef",
    "StandardsSet",
    "Unit",
    "UnitCatalog",
    "cross_reference_issues",
]

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=64)]
UnitCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_.\-]*$", max_length=64)]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)]
LevelNumber = Annotated[int, Field(ge=1, le=20)]
NonNegativeHours = Annotated[DecimalText, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


class Bilingual(_Model):
    """Text in Chinese and English (中英文)."""

    zh: LocalizedText
    en: LocalizedText


# ------------------------------------------------------------------ set.yaml


class SetMeta(_Model):
    """``set.yaml``: which standards set and version this is (标准集)."""

    id: Key
    version: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
    effective_from: date
    title: Bilingual
    description: Bilingual | None = None


# ------------------------------------------------------------------ framework.yaml


class Level(_Model):
    """One level of the qualification framework (资历框架等级)."""

    level: LevelNumber
    name: Bilingual
    description: Bilingual | None = None


class Framework(_Model):
    """``framework.yaml``: the qualification levels, numbered 1, 2, … without gaps."""

    title: Bilingual | None = None
    levels: tuple[Level, ...] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _numbered(cls, levels: tuple[Level, ...]) -> tuple[Level, ...]:
        numbers = [level.level for level in levels]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"levels must be numbered 1..{len(numbers)} in order, got {numbers}")
        return levels


# ------------------------------------------------------------------ units.yaml


class Unit(_Model):
    """A learning unit of the catalog (认证单元): what an outcome is recognised as."""

    code: UnitCode
    title: Bilingual
    level: LevelNumber
    credits: Credits
    category: UnitCategory
    nominal_hours: NonNegativeHours


class UnitCatalog(_Model):
    """``units.yaml``: the learning-unit catalog (认证单元目录)."""

    units: tuple[Unit, ...] = Field(min_length=1)

    @field_validator("units")
    @classmethod
    def _unique(cls, units: tuple[Unit, ...]) -> tuple[Unit, ...]:
        if repeated := _duplicates(unit.code for unit in units):
            raise ValueError(f"unit codes must be unique: {', '.join(repeated)}")
        return units


# ------------------------------------------------------------------ institutions.yaml


class MatchKind(StrEnum):
    """How a mapping's ``activity`` is compared with a statement's activity id."""

    exact = "exact"  # the same IRI
    prefix = "prefix"  # the activity id starts with it
    glob = "glob"  # '*' stands for any run of characters, everything else is literal


class ActivityMapping(_Model):
    """An institution's activity (course, assessment) mapped to a catalog unit (课程映射)."""

    activity: Iri
    match: MatchKind = MatchKind.exact
    unit: UnitCode
    hours: NonNegativeHours | None = Field(
        default=None, description="recorded hours when a statement carries no duration"
    )

    @property
    def literal_length(self) -> int:
        """Characters that must match literally: the longest mapping wins among patterns."""
        return (
            len(self.activity.replace("*", ""))
            if self.match is MatchKind.glob
            else len(self.activity)
        )

    def matches(self, activity_id: str) -> bool:
        """Whether this mapping covers ``activity_id``."""
        if self.match is MatchKind.exact:
            return activity_id == self.activity
        if self.match is MatchKind.prefix:
            return activity_id.startswith(self.activity)
        return _glob(self.activity).fullmatch(activity_id) is not None


_GLOBS: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    compiled = _GLOBS.get(pattern)
    if compiled is None:
        compiled = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.S)
        _GLOBS[pattern] = compiled
    return compiled


class AccreditationScope(_Model):
    """What an institution may award: units of these categories, and these units."""

    categories: tuple[UnitCategory, ...] = ()
    units: tuple[UnitCode, ...] = ()

    def covers(self, unit: Unit) -> bool:
        """Whether ``unit`` lies in the scope."""
        return unit.category in self.categories or unit.code in self.units


class Institution(_Model):
    """An institution of the catalog, its accreditation and its activity mappings."""

    key: Key
    name: Bilingual
    type: InstitutionType
    home_page: Iri | None = None
    accredited: bool
    scope: AccreditationScope = AccreditationScope()
    mappings: tuple[ActivityMapping, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Institution:
        if self.accredited and not (self.scope.categories or self.scope.units):
            raise ValueError("an accredited institution needs a scope (categories or units)")
        exact = [m.activity for m in self.mappings if m.match is MatchKind.exact]
        if repeated := _duplicates(exact):
            raise ValueError(f"activities mapped twice: {', '.join(repeated)}")
        return self

    def mapping_for(self, activity_id: str) -> ActivityMapping | None:
        """The mapping of ``activity_id``: exact first, then the longest matching pattern."""
        best: ActivityMapping | None = None
        for mapping in self.mappings:
            if mapping.match is MatchKind.exact:
                if mapping.activity == activity_id:
                    return mapping
            elif mapping.matches(activity_id) and (
                best is None or mapping.literal_length > best.literal_length
            ):
                best = mapping
        return best


class InstitutionCatalog(_Model):
    """``institutions.yaml``: institutions and their catalog mappings (机构目录)."""

    institutions: tuple[Institution, ...] = Field(min_length=1)

    @field_validator("institutions")
    @classmethod
    def _unique(cls, institutions: tuple[Institution, ...]) -> tuple[Institution, ...]:
        if repeated := _duplicates(i.key for i in institutions):
            raise ValueError(f"institution keys must be unique: {', '.join(repeated)}")
        return institutions


# ------------------------------------------------------------------ recognition.yaml


class RecognitionRule(_Model):
    """A recognition rule (认定规则): when the condition holds, an outcome of the mapped unit."""

    id: RuleId
    version: Annotated[int, Field(ge=1)]
    title: Bilingual
    description: Bilingual | None = None
    when: Condition
    credits: CreditsExpr = UnitCredits()
    requires_review: bool = Field(
        default=False, description="a certifier must confirm the outcome (人工审核)"
    )


class RecognitionRules(_Model):
    """``recognition.yaml``: rules tried in file order; the first that matches decides."""

    rules: tuple[RecognitionRule, ...] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[RecognitionRule, ...]) -> tuple[RecognitionRule, ...]:
        if repeated := _duplicates(rule.id for rule in rules):
            raise ValueError(f"rule ids must be unique: {', '.join(repeated)}")
        return rules


# ------------------------------------------------------------------ accumulation.yaml

_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")


class CapGroup(_Model):
    """At most ``max_credits`` per learner per calendar year for these categories together."""

    group: Key
    title: Bilingual | None = None
    categories: tuple[UnitCategory, ...] = Field(min_length=1)
    max_credits: Credits
    period: Literal["calendar_year"] = "calendar_year"


class AccumulationPolicy(_Model):
    """``accumulation.yaml``: how recognised outcomes become credits (积累规则)."""

    once_per_unit: bool = Field(
        default=True, description="a unit is credited once per learner, wherever it is passed"
    )
    validity_years: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None, description="outcomes expire this many years after the statement"
    )
    calendar_utc_offset: str = Field(
        default="+08:00", description="UTC offset that decides which calendar year counts"
    )
    caps: tuple[CapGroup, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> AccumulationPolicy:
        if not _OFFSET.match(self.calendar_utc_offset):
            raise ValueError("calendar_utc_offset must look like +08:00")
        if repeated := _duplicates(cap.group for cap in self.caps):
            raise ValueError(f"cap groups must be unique: {', '.join(repeated)}")
        categories = [category.value for cap in self.caps for category in cap.categories]
        if repeated := _duplicates(categories):
            raise ValueError(f"a category may be in one cap group only: {', '.join(repeated)}")
        return self

    # Both are asked once per outcome of a learner's record and once per evaluation:
    # answered from what is worked out once per offset text and per tuple of caps.
    @property
    def calendar_timezone(self) -> timezone:
        """The fixed offset of the calendar."""
        return _fixed_offset(self.calendar_utc_offset)

    def cap_for(self, category: UnitCategory) -> CapGroup | None:
        """The cap group counting ``category``, if any."""
        return _cap_index(self.caps).get(category)


@lru_cache(maxsize=64)
def _fixed_offset(text: str) -> timezone:
    """The ``timezone`` of a ``+08:00`` offset (the few offsets of the sets in use)."""
    sign = -1 if text[0] == "-" else 1
    hours, minutes = text[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


#: Category -> its (first) cap group, by the id of the policy's ``caps`` tuple, held with
#: the tuple so the id stays its: a policy is frozen, and one copied with other caps has
#: another tuple. Not a private attribute of the policy: those take part in ``==``.
_CAP_INDEXES: dict[int, tuple[tuple[CapGroup, ...], dict[str, CapGroup]]] = {}


def _cap_index(caps: tuple[CapGroup, ...]) -> dict[str, CapGroup]:
    held = _CAP_INDEXES.get(id(caps))
    if held is not None and held[0] is caps:
        return held[1]
    index: dict[str, CapGroup] = {}
    for cap in caps:
        for category in cap.categories:
            index.setdefault(category, cap)
    if len(_CAP_INDEXES) >= 64:
        _CAP_INDEXES.clear()
    _CAP_INDEXES[id(caps)] = (caps, index)
    return index


# ------------------------------------------------------------------ conversion.yaml


class Programme(_Model):
    """A target programme (目标专业) of some institution and the units of its curriculum."""

    key: Key
    institution: Key
    title: Bilingual
    level: LevelNumber
    units: tuple[UnitCode, ...] = Field(min_length=1)
    max_conversion_credits: Credits | None = Field(
        default=None, description="at most this many credits converted into the programme"
    )


class AnyNOf(_Model):
    """At least ``n`` distinct units among ``units``."""

    n: Annotated[int, Field(ge=1)]
    units: tuple[UnitCode, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _enough(self) -> AnyNOf:
        if self.n > len(set(self.units)):
            raise ValueError(f"n = {self.n} but only {len(set(self.units))} distinct units given")
        return self


class ConversionSources(_Model):
    """Which outcomes a conversion needs: ``all_of`` these units, or ``any_n_of``."""

    all_of: tuple[UnitCode, ...] = ()
    any_n_of: AnyNOf | None = None

    @model_validator(mode="after")
    def _one(self) -> ConversionSources:
        if bool(self.all_of) == (self.any_n_of is not None):
            raise ValueError("give exactly one of all_of or any_n_of")
        if repeated := _duplicates(self.all_of):
            raise ValueError(f"units listed twice: {', '.join(repeated)}")
        return self

    @property
    def units(self) -> tuple[str, ...]:
        """Every unit the sources name."""
        return self.all_of if self.any_n_of is None else self.any_n_of.units


class Exemption(_Model):
    """Exemption (免修) of a unit of the programme, worth that unit's catalog credits."""

    kind: Literal["exemption"] = "exemption"
    unit: UnitCode


class ProgrammeCredits(_Model):
    """Credits toward the programme (计入专业学分) without exempting a named unit.

    Either a fixed number of ``credits``, or a ``ratio`` (学分折算比例) applied to the
    catalog credits of the outcomes used, for institutions whose credit scales differ:
    ``ratio: "0.75"`` makes a 2.0-credit course count 1.50. The product is rounded
    down to a whole hundredth, so a conversion never grants more than the ratio says.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"oneOf": [{"required": ["credits"]}, {"required": ["ratio"]}]},
    )

    kind: Literal["programme_credits"] = "programme_credits"
    credits: Credits | None = Field(default=None, description="a fixed number of credits")
    ratio: DecimalText | None = Field(
        default=None,
        description="credits = the used outcomes' credits × ratio, rounded down to 0.01",
    )

    @model_validator(mode="after")
    def _positive(self) -> ProgrammeCredits:
        if (self.credits is None) == (self.ratio is None):
            raise ValueError("give either credits or ratio, not both or neither")
        if self.credits is not None and self.credits <= 0:
            raise ValueError("credits must be greater than zero")
        if self.ratio is not None:
            if not Decimal(0) < self.ratio <= Decimal(10):
                raise ValueError("ratio lies above 0 and at most 10")
            if self.ratio != self.ratio.quantize(Decimal("0.0001")):
                raise ValueError("ratio has at most four decimal places")
        return self

    @model_serializer(mode="wrap")
    def _omit_unset_form(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out the form not used, so sets written before ``ratio`` existed keep
        their content hash."""
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None or k not in {"credits", "ratio"}}

    def credits_for(self, source_credits: Decimal) -> Decimal:
        """What this target grants when the outcomes used carry ``source_credits``."""
        if self.credits is not None:
            return self.credits
        assert self.ratio is not None  # noqa: S101 - the validator guarantees one of them
        return (source_credits * self.ratio).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


ConversionTarget = Annotated[Exemption | ProgrammeCredits, Field(discriminator="kind")]


class ConversionRule(_Model):
    """A conversion rule (转换规则): source outcomes that stand for a target."""

    id: RuleId
    version: Annotated[int, Field(ge=1)]
    title: Bilingual
    description: Bilingual | None = None
    programme: Key
    sources: ConversionSources
    min_scaled: DecimalText | None = Field(
        default=None, description="every outcome used has a scaled score ≥ this (inclusive)"
    )
    min_level: LevelNumber | None = Field(
        default=None, description="every outcome used is of a unit at this level or above"
    )
    within_years: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="every outcome used was achieved at most this many years ago"
    )
    target: ConversionTarget
    requires_approval: bool = True


class ConversionTable(_Model):
    """``conversion.yaml``: target programmes and conversion rules (转换规则表)."""

    programmes: tuple[Programme, ...] = ()
    rules: tuple[ConversionRule, ...] = ()

    @field_validator("programmes")
    @classmethod
    def _unique_programmes(cls, programmes: tuple[Programme, ...]) -> tuple[Programme, ...]:
        if repeated := _duplicates(p.key for p in programmes):
            raise ValueError(f"programme keys must be unique: {', '.join(repeated)}")
        return programmes

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: tuple[ConversionRule, ...]) -> tuple[ConversionRule, ...]:
        if repeated := _duplicates(rule.id for rule in rules):
            raise ValueError(f"rule ids must be unique: {', '.join(repeated)}")
        return rules

    def programme(self, key: str) -> Programme | None:
        """The programme named ``key``."""
        return next((p for p in self.programmes if p.key == key), None)

    def rule(self, rule_id: str) -> ConversionRule | None:
        """The conversion rule ``rule_id``."""
        return next((r for r in self.rules if r.id == rule_id), None)


# ------------------------------------------------------------------ the whole set

#: File name of each part of a set, in the order they are loaded and reported.
FILES: dict[str, str] = {
    "meta": "set.yaml",
    "framework": "framework.yaml",
    "units": "units.yaml",
    "institutions": "institutions.yaml",
    "recognition": "recognition.yaml",
    "accumulation": "accumulation.yaml",
    "conversion": "conversion.yaml",
}

Loc = tuple[str | int, ...]


def cross_reference_issues(
    *,
    framework: Framework,
    units: UnitCatalog,
    institutions: InstitutionCatalog,
    recognition: RecognitionRules,
    conversion: ConversionTable,
) -> list[tuple[str, Loc, str]]:
    """References between files that point nowhere: ``(part, location, message)`` each."""
    del recognition  # rules refer to categories and IRIs only, checked by their types
    issues: list[tuple[str, Loc, str]] = []
    levels = {level.level for level in framework.levels}
    by_code = {unit.code: unit for unit in units.units}
    keys = {institution.key for institution in institutions.institutions}

    for i, unit in enumerate(units.units):
        if unit.level not in levels:
            issues.append(("units", ("units", i, "level"), f"level {unit.level} not in framework"))

    for i, institution in enumerate(institutions.institutions):
        for j, code in enumerate(institution.scope.units):
            if code not in by_code:
                loc: Loc = ("institutions", i, "scope", "units", j)
                issues.append(("institutions", loc, f"unknown unit {code}"))
        for j, mapping in enumerate(institution.mappings):
            if mapping.unit not in by_code:
                loc = ("institutions", i, "mappings", j, "unit")
                issues.append(("institutions", loc, f"unknown unit {mapping.unit}"))

    programmes = {programme.key: programme for programme in conversion.programmes}
    for i, programme in enumerate(conversion.programmes):
        if programme.institution not in keys:
            loc = ("programmes", i, "institution")
            issues.append(("conversion", loc, f"unknown institution {programme.institution}"))
        if programme.level not in levels:
            loc = ("programmes", i, "level")
            issues.append(("conversion", loc, f"level {programme.level} not in framework"))
        for j, code in enumerate(programme.units):
            if code not in by_code:
                loc = ("programmes", i, "units", j)
                issues.append(("conversion", loc, f"unknown unit {code}"))

    for i, rule in enumerate(conversion.rules):
        programme_ = programmes.get(rule.programme)
        if programme_ is None:
            loc = ("rules", i, "programme")
            issues.append(("conversion", loc, f"unknown programme {rule.programme}"))
        source_loc: Loc = (
            ("rules", i, "sources", "all_of")
            if rule.sources.any_n_of is None
            else ("rules", i, "sources", "any_n_of", "units")
        )
        for j, code in enumerate(rule.sources.units):
            if code not in by_code:
                issues.append(("conversion", (*source_loc, j), f"unknown unit {code}"))
        if rule.min_level is not None and rule.min_level not in levels:
            loc = ("rules", i, "min_level")
            issues.append(("conversion", loc, f"level {rule.min_level} not in framework"))
        if isinstance(rule.target, Exemption):
            loc = ("rules", i, "target", "unit")
            if rule.target.unit not in by_code:
                issues.append(("conversion", loc, f"unknown unit {rule.target.unit}"))
            elif programme_ is not None and rule.target.unit not in programme_.units:
                message = f"{rule.target.unit} is not a unit of programme {programme_.key}"
                issues.append(("conversion", loc, message))
            if rule.target.unit in rule.sources.units:
                issues.append(("conversion", loc, "a unit cannot be converted into itself"))
    return issues


class StandardsRef(_Model):
    """Which standards decided something: id, version and content hash."""

    id: str
    version: str
    hash: str


def _private(model: BaseModel) -> dict[str, Any]:
    """A model's private attributes, read without pydantic's ``__getattr__``."""
    return cast(dict[str, Any], model.__pydantic_private__)


class StandardsSet(_Model):
    """A whole standards set, cross-checked, with its content hash and lookups."""

    meta: SetMeta
    framework: Framework
    units: UnitCatalog
    institutions: InstitutionCatalog
    recognition: RecognitionRules
    accumulation: AccumulationPolicy
    conversion: ConversionTable

    _hash: str = PrivateAttr(default="")
    _units: dict[str, Unit] = PrivateAttr(default_factory=dict)
    _institutions: dict[str, Institution] = PrivateAttr(default_factory=dict)
    _ref: StandardsRef | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _references(self) -> StandardsSet:
        issues = cross_reference_issues(
            framework=self.framework,
            units=self.units,
            institutions=self.institutions,
            recognition=self.recognition,
            conversion=self.conversion,
        )
        if issues:
            lines = [f"{FILES[part]}: {_dotted(loc)}: {message}" for part, loc, message in issues]
            raise ValueError("; ".join(lines))
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Index units and institutions and compute the content hash once."""
        self._units = {unit.code: unit for unit in self.units.units}
        self._institutions = {i.key: i for i in self.institutions.institutions}
        self._hash = hashlib.sha256(self.canonical_json()).hexdigest()
        self._ref = StandardsRef(id=self.meta.id, version=self.meta.version, hash=self._hash)

    def canonical_json(self) -> bytes:
        """The set as canonical JSON: sorted keys, no spaces, UTF-8, decimals as text."""
        document = self.model_dump(mode="json", by_alias=True)
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    @property
    def content_hash(self) -> str:
        """sha256 (hex) of :meth:`canonical_json`: identifies this exact content."""
        return self._hash

    @property
    def ref(self) -> StandardsRef:
        """Id, version and hash, as recorded on every decision (made once: frozen)."""
        ref: StandardsRef | None = _private(self)["_ref"]
        if ref is None:  # pragma: no cover - model_post_init sets it
            ref = StandardsRef(id=self.meta.id, version=self.meta.version, hash=self._hash)
        return ref

    # The lookups the engine makes several times per statement read the private
    # indexes directly: through pydantic's __getattr__ they cost more than the lookup.
    def unit(self, code: str) -> Unit | None:
        """The catalog unit ``code``."""
        unit: Unit | None = _private(self)["_units"].get(code)
        return unit

    def institution(self, key: str) -> Institution | None:
        """The catalog institution ``key``."""
        institution: Institution | None = _private(self)["_institutions"].get(key)
        return institution

    def level(self, number: int) -> Level | None:
        """The framework level ``number``."""
        return next((lv for lv in self.framework.levels if lv.level == number), None)

    def credits_of(self, code: str) -> Decimal:
        """Catalog credits of unit ``code`` (KeyError if unknown)."""
        return self._units[code].credits


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
