"""One table row → one xAPI statement, or the row's errors (zh-CN and en).

Pure: no database. The statement id is deterministic (uuid5 of the institution and
the row's identity: the mapped ``statement_id`` column when there is one, else
learner + activity + verb + timestamp), so importing the same file again yields the
same ids and the LRS stores nothing new; a row whose identity is unchanged but whose
content (score, hours...) changed gets the same id with a different body, which the
LRS reports as a conflict instead of overwriting.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from creditbank.imports.mapping import ADL_VERBS, ColumnMapping
from creditbank.imports.reader import MAX_CELL_CHARS, Cell, ImportFileInvalid
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.validate import validate_duration

#: Namespace of import statement ids (uuid5); never change it, ids depend on it.
IMPORT_NAMESPACE = uuid.UUID("5b1f3c2e-8d0a-5e47-9c1b-0f6a2d4e8b13")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
)


@dataclass(frozen=True)
class RowError:
    """What is wrong with one cell (or row): shown in the preview, in both languages."""

    row: int
    column: str | None
    value: str | None
    code: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "code": self.code,
            "message": {"zh-CN": self.zh, "en": self.en},
        }


@dataclass
class RowStatement:
    row: int
    id: uuid.UUID
    statement: dict[str, Any]


@dataclass
class Converted:
    statements: list[RowStatement] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    duplicate_rows: int = 0
    rows: int = 0


class RowConverter:
    """Turns rows of one table into statements under one mapping for one institution."""

    def __init__(
        self,
        mapping: ColumnMapping,
        header: list[str],
        *,
        institution_key: str,
        home_page: str,
    ) -> None:
        self.mapping = mapping
        self.institution_key = institution_key
        self.home_page = mapping.learner.home_page or home_page
        missing = [name for name in mapping.required_columns() if name not in header]
        if missing:
            raise ImportFileInvalid(
                "missing_columns",
                f"文件缺少映射所需的列：{'、'.join(missing)}（表头：{'、'.join(header)}）",
                f"the file lacks the mapped column(s) {', '.join(missing)} "
                f"(header: {', '.join(header)})",
            )
        self.columns = mapping.required_columns()
        self.index = {name: header.index(name) for name in self.columns}
        self.tz = _parse_tz(mapping.date.timezone)
        self._seen: dict[uuid.UUID, tuple[int, dict[str, Any]]] = {}

    def convert_all(self, rows: Any) -> Converted:
        out = Converted()
        for number, cells in rows:
            out.rows += 1
            result = self.convert(number, cells)
            if isinstance(result, list):
                out.errors.extend(result)
                continue
            earlier = self._seen.get(result.id)
            if earlier is not None:
                if earlier[1] == result.statement:
                    out.duplicate_rows += 1
                    continue
                out.errors.append(
                    RowError(
                        number,
                        None,
                        None,
                        "duplicate_row_identity",
                        f"与第 {earlier[0]} 行是同一条记录，但内容不同",
                        f"the same record as row {earlier[0]} but with different content",
                    )
                )
                continue
            self._seen[result.id] = (number, result.statement)
            out.statements.append(result)
        if out.rows == 0:
            raise ImportFileInvalid(
                "no_rows", "文件只有表头，没有数据行", "the file has no data rows"
            )
        return out

    def _cell(self, cells: list[Cell], column: str) -> Cell:
        position = self.index[column]
        value = cells[position] if position < len(cells) else None
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
        return value

    def convert(self, number: int, cells: list[Cell]) -> RowStatement | list[RowError]:
        m = self.mapping
        errors: list[RowError] = []

        def error(column: str | None, value: Cell, code: str, zh: str, en: str) -> None:
            shown = None if value is None else str(value)[:200]
            errors.append(RowError(number, column, shown, code, zh, en))

        for name in self.columns:
            value = self._cell(cells, name)
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                error(name, value[:50], "cell_too_long", "单元格内容过长", "the cell is too long")
                return errors

        learner = _text(self._cell(cells, m.learner.column))
        if learner is None:
            error(m.learner.column, None, "required", "学习者标识为空", "the learner id is empty")

        code = _text(self._cell(cells, m.activity.column))
        activity: str | None = None
        if code is None:
            error(m.activity.column, None, "required", "课程代码为空", "the course code is empty")
        elif code in m.activity.codes:
            activity = m.activity.codes[code]
        elif _IRI.match(code):
            activity = code
        elif m.activity.base:
            activity = m.activity.base + quote(code, safe="-._~")
        else:
            error(
                m.activity.column,
                code,
                "unknown_course",
                "课程代码未在映射中列出，且映射没有 base",
                "the course code is not in the mapping's codes and the mapping has no base",
            )

        verb = m.verb.default
        if m.verb.column is not None:
            raw_verb = _text(self._cell(cells, m.verb.column))
            if raw_verb is not None:
                if raw_verb in m.verb.values:
                    verb = m.verb.values[raw_verb]
                elif raw_verb in ADL_VERBS:
                    verb = ADL_VERBS[raw_verb]
                elif _IRI.match(raw_verb):
                    verb = raw_verb
                else:
                    known = "、".join(m.verb.values) or "、".join(ADL_VERBS)
                    error(
                        m.verb.column,
                        raw_verb,
                        "unknown_verb",
                        f"无法识别的结果/动作（可用：{known}）",
                        f"unknown result/verb (known: {', '.join(m.verb.values or ADL_VERBS)})",
                    )

        result: dict[str, Any] = {}
        if m.score is not None:
            raw_score = self._cell(cells, m.score.column)
            if raw_score is not None:
                score = _decimal(raw_score)
                if score is None:
                    error(m.score.column, raw_score, "not_a_number", "成绩不是数字", "not a number")
                elif not m.score.min <= score <= m.score.max:
                    error(
                        m.score.column,
                        raw_score,
                        "out_of_range",
                        f"成绩须在 {m.score.min} 到 {m.score.max} 之间",
                        f"the score must lie between {m.score.min} and {m.score.max}",
                    )
                else:
                    scaled = (score - m.score.min) / (m.score.max - m.score.min)
                    result["score"] = {
                        "scaled": _number(scaled.quantize(Decimal("0.000001")).normalize()),
                        "raw": _number(score),
                        "min": _number(m.score.min),
                        "max": _number(m.score.max),
                    }
                    if m.score.pass_ is not None:
                        result["success"] = score >= m.score.pass_

        if m.hours is not None:
            raw_hours = self._cell(cells, m.hours.column)
            if raw_hours is not None:
                hours = _decimal(raw_hours)
                if hours is None or hours < 0 or hours > 100000:
                    error(
                        m.hours.column,
                        raw_hours,
                        "invalid_hours",
                        "学时须是 0 到 100000 之间的数字",
                        "hours must be a number from 0 to 100000",
                    )
                else:
                    result["duration"] = _iso_hours(hours)
        if m.duration is not None:
            raw_duration = _text(self._cell(cells, m.duration.column))
            if raw_duration is not None:
                try:
                    result["duration"] = validate_duration(raw_duration, "duration")
                except XAPIValidationError:
                    error(
                        m.duration.column,
                        raw_duration,
                        "invalid_duration",
                        "时长须是 ISO 8601 格式（如 PT16H）",
                        "the duration must be ISO 8601 (e.g. PT16H)",
                    )
        if verb in (ADL_VERBS["completed"], ADL_VERBS["passed"]):
            result.setdefault("completion", True)
            if verb == ADL_VERBS["passed"]:
                result.setdefault("success", True)
        elif verb == ADL_VERBS["failed"]:
            result["success"] = False

        raw_date = self._cell(cells, m.date.column)
        timestamp: str | None = None
        if raw_date is None:
            error(m.date.column, None, "required", "日期为空", "the date is empty")
        else:
            when = _datetime(raw_date, self.tz)
            if when is None:
                error(
                    m.date.column,
                    raw_date,
                    "invalid_date",
                    "无法识别的日期（如 2024-03-01）",
                    "not a date (e.g. 2024-03-01)",
                )
            elif when > datetime.now(UTC) + timedelta(days=1):
                error(
                    m.date.column,
                    raw_date,
                    "future_date",
                    "日期在未来",
                    "the date is in the future",
                )
            else:
                timestamp = when.isoformat()

        own_id: str | None = None
        if m.statement_id is not None:
            own_id = _text(self._cell(cells, m.statement_id.column))

        if errors or learner is None or activity is None or timestamp is None:
            return errors

        if own_id is not None:
            try:
                statement_id = uuid.UUID(own_id)
            except ValueError:
                statement_id = uuid.uuid5(IMPORT_NAMESPACE, f"{self.institution_key}\x1f{own_id}")
        else:
            identity = "\x1f".join((self.institution_key, learner, activity, verb, timestamp))
            statement_id = uuid.uuid5(IMPORT_NAMESPACE, identity)

        statement: dict[str, Any] = {
            "id": str(statement_id),
            "actor": {
                "objectType": "Agent",
                "account": {"homePage": self.home_page, "name": learner},
            },
            "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
            "object": {"objectType": "Activity", "id": activity},
            "timestamp": timestamp,
        }
        if m.activity.name_column is not None:
            title = _text(self._cell(cells, m.activity.name_column))
            if title:
                statement["object"]["definition"] = {"name": {"zh-CN": title}}
        if result:
            statement["result"] = result
        return RowStatement(number, statement_id, statement)


def _text(value: Cell) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _decimal(value: Cell) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _number(value: Decimal) -> int | float:
    """A JSON number for xAPI (score values are JSON numbers, not credits)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _iso_hours(hours: Decimal) -> str:
    if hours == hours.to_integral_value():
        return f"PT{int(hours)}H"
    total_minutes = hours * 60
    if total_minutes == total_minutes.to_integral_value():
        whole = int(hours)
        return f"PT{whole}H{int(total_minutes - whole * 60)}M"
    return f"PT{hours.normalize():f}H"


def _parse_tz(value: str) -> timezone:
    sign = -1 if value.startswith("-") else 1
    hours, minutes = value[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def _datetime(value: Cell, tz: timezone) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = _text(value)
        if text is None:
            return None
        value = text
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
        except ValueError:
            return None
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=tz)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
