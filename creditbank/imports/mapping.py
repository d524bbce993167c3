"""The column-mapping file of an institution (YAML): which column holds what.

Example (a vocational school's MIS export)::

    institution: fxvs          # optional; must match the institution importing
    encoding: auto             # auto | utf-8 | gb18030 (CSV only)
    learner:
      column: 学号
      home_page: https://fxvs.example.edu.cn   # default: the institution's first
    activity:
      column: 课程代码
      base: https://fxvs.example.edu.cn/courses/   # id = base + code (an IRI is kept)
      codes: {ELEC4: https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment}
    verb:
      column: 结果               # optional; without it every row gets ``default``
      default: passed
      values: {通过: passed, 完成: completed, 出勤: attended, 未通过: failed}
    score: {column: 成绩, min: 0, max: 100, pass: 60}
    hours: {column: 学时}       # or duration: {column: 时长} with ISO 8601 values
    date: {column: 日期, timezone: "+08:00"}
    statement_id: {column: 记录号}   # optional: the row's own id in the school's system

Errors name the mapping file's line (``mapping.yaml:7: score.max: ...``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from creditbank.errors import BadRequest

#: Short verb names a mapping may use for the ADL verbs.
ADL_VERBS = {
    name: f"http://adlnet.gov/expapi/verbs/{name}"
    for name in (
        "passed",
        "failed",
        "completed",
        "attended",
        "attempted",
        "experienced",
        "mastered",
        "scored",
    )
}
_TZ = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")


class MappingInvalid(BadRequest):
    code = "mapping_invalid"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnRef(_Strict):
    column: str = Field(min_length=1)


class LearnerMap(ColumnRef):
    home_page: str | None = None


class ActivityMap(ColumnRef):
    base: str | None = None
    codes: dict[str, str] = Field(default_factory=dict)
    name_column: str | None = None


class VerbMap(_Strict):
    column: str | None = None
    default: str = "completed"
    values: dict[str, str] = Field(default_factory=dict)

    @field_validator("default")
    @classmethod
    def _default_is_verb(cls, value: str) -> str:
        return verb_iri(value)

    @field_validator("values")
    @classmethod
    def _values_are_verbs(cls, value: dict[str, str]) -> dict[str, str]:
        return {str(k).strip(): verb_iri(v) for k, v in value.items()}


class ScoreMap(ColumnRef):
    min: Decimal = Decimal(0)
    max: Decimal = Decimal(100)
    #: A score at or above this (raw) is ``result.success = true``, below ``false``.
    pass_: Decimal | None = Field(default=None, alias="pass")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _range(self) -> ScoreMap:
        if self.max <= self.min:
            raise ValueError("max must be greater than min")
        if self.pass_ is not None and not self.min <= self.pass_ <= self.max:
            raise ValueError("pass must lie between min and max")
        return self


class DateMap(ColumnRef):
    timezone: str = "+08:00"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        if value in {"Z", "UTC"}:
            return "+00:00"
        if not _TZ.match(value):
            raise ValueError("timezone must look like +08:00")
        return value


class ColumnMapping(_Strict):
    institution: str | None = None
    encoding: Literal["auto", "utf-8", "gb18030"] = "auto"
    sheet: str | None = None
    learner: LearnerMap
    activity: ActivityMap
    verb: VerbMap = Field(default_factory=VerbMap)
    score: ScoreMap | None = None
    hours: ColumnRef | None = None
    duration: ColumnRef | None = None
    date: DateMap
    statement_id: ColumnRef | None = None

    @model_validator(mode="after")
    def _one_duration(self) -> ColumnMapping:
        if self.hours is not None and self.duration is not None:
            raise ValueError("map either hours or duration, not both")
        return self

    def required_columns(self) -> list[str]:
        """Columns the file must have (in mapping order)."""
        columns = [self.learner.column, self.activity.column, self.date.column]
        for optional in (self.verb, self.score, self.hours, self.duration, self.statement_id):
            if optional is not None and optional.column:
                columns.append(optional.column)
        if self.activity.name_column:
            columns.append(self.activity.name_column)
        return columns


def verb_iri(value: str) -> str:
    value = str(value).strip()
    if value in ADL_VERBS:
        return ADL_VERBS[value]
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value):
        return value
    raise ValueError(f"{value!r} is neither an IRI nor one of {', '.join(ADL_VERBS)}")


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__lines__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    line = None
    node = data
    for part in loc:
        if isinstance(node, dict):
            lines = node.get("__lines__", {})
            if part in lines:
                line = lines[part]
            node = node.get(part)
        else:
            break
    return line


def parse_mapping(text: str, *, source: str = "mapping.yaml") -> ColumnMapping:
    """The mapping in ``text``; :class:`MappingInvalid` names file, line and field."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise MappingInvalid(
            f"{where}: not valid YAML / 不是有效的 YAML: {exc}", code="mapping_invalid"
        ) from None
    if not isinstance(data, dict):
        raise MappingInvalid(
            f"{source}:1: the mapping must be a YAML mapping / 映射文件必须是键值结构"
        )
    try:
        return ColumnMapping.model_validate(_strip_lines(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not isinstance(p, int) or True)
            field = ".".join(str(p) for p in loc) or "$"
            line = _line_of(data, loc)
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {field}: {error['msg']}")
        raise MappingInvalid(
            "; ".join(problems) + " / 映射文件有误", code="mapping_invalid"
        ) from None
