"""Loading a standards set directory, with errors that name file, line and field.

Each file is parsed with a YAML loader that reads numbers as ``Decimal`` (never
float) and refuses duplicate keys; the composed node tree is kept so that a pydantic
error location (``rules.0.when.all.1.score_scaled_gte``) can be walked back to the
line and column of the offending value.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from creditbank.standards.errors import InvalidStandards, StandardsIssue
from creditbank.standards.schemas import (
    FILES,
    AccumulationPolicy,
    ConversionTable,
    Framework,
    InstitutionCatalog,
    RecognitionRules,
    SetMeta,
    StandardsSet,
    UnitCatalog,
    cross_reference_issues,
)

__all__ = ["MODELS", "load_standards", "parse_yaml"]

#: The model of each part of a set (keyed as :data:`creditbank.standards.schemas.FILES`).
MODELS: dict[str, type[BaseModel]] = {
    "meta": SetMeta,
    "framework": Framework,
    "units": UnitCatalog,
    "institutions": InstitutionCatalog,
    "recognition": RecognitionRules,
    "accumulation": AccumulationPolicy,
    "conversion": ConversionTable,
}

Loc = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)


class _DecimalLoader(yaml.SafeLoader):
    """Safe YAML, except that floats become ``Decimal`` straight from their text."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf / .nan: leave as text, validation refuses it
        return text


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


class _Parsed:
    """One parsed file: its data and its node tree."""

    def __init__(self, data: Any, node: yaml.Node | None) -> None:
        self.data = data
        self.node = node


def parse_yaml(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """Data and node tree of one YAML document; :class:`InvalidStandards` on bad YAML."""
    loader = _DecimalLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _refuse_duplicate_keys(node, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise InvalidStandards([StandardsIssue(file, line, column, "", message)]) from None
    except yaml.YAMLError as exc:
        raise InvalidStandards([StandardsIssue(file, None, None, "", str(exc))]) from None
    finally:
        loader.dispose()
    return data, node


def _refuse_duplicate_keys(root: yaml.Node, file: str) -> None:
    issues: list[StandardsIssue] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        mark = key.start_mark
                        issues.append(
                            StandardsIssue(
                                file,
                                mark.line + 1,
                                mark.column + 1,
                                str(key.value),
                                "duplicate key",
                            )
                        )
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    if issues:
        raise InvalidStandards(sorted(issues, key=lambda i: (i.line or 0, i.column or 0)))


def locate(node: yaml.Node | None, loc: Loc) -> tuple[int | None, int | None, str]:
    """Line, column (1-based) and dotted field path of a pydantic ``loc`` in a node tree.

    Parts of ``loc`` that are not keys or indexes of the document (the tags pydantic
    adds for union members, field names under a scalar) are skipped; the last part is
    always kept in the path, since it names a missing field.
    """
    path: list[str | int] = []
    current = node
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        child: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            child = next(
                (v for k, v in current.value if isinstance(k, yaml.ScalarNode) and k.value == part),
                None,
            )
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            child = current.value[part]
        if child is not None:
            current = child
            path.append(part)
        elif last and (not path or path[-1] != part):
            path.append(part)
    if current is None:
        return None, None, _dotted(path)
    mark = current.start_mark
    return mark.line + 1, mark.column + 1, _dotted(path)


def _dotted(path: list[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _issue(file: str, node: yaml.Node | None, loc: Loc, message: str) -> StandardsIssue:
    line, column, field = locate(node, loc)
    return StandardsIssue(file, line, column, field, message)


def load_standards(directory: Path) -> StandardsSet:
    """Load, validate and cross-check the standards set in ``directory``.

    Raises :class:`InvalidStandards` listing every problem found (each with file,
    line, column and field), not only the first.
    """
    directory = Path(directory)
    issues: list[StandardsIssue] = []
    parsed: dict[str, _Parsed] = {}
    parts: dict[str, BaseModel] = {}
    for part, file in FILES.items():
        path = directory / file
        if not path.is_file():
            issues.append(StandardsIssue(file, None, None, "", f"missing file in {directory}"))
            continue
        try:
            data, node = parse_yaml(path.read_text(encoding="utf-8"), file)
        except InvalidStandards as exc:
            issues += exc.issues
            continue
        parsed[part] = _Parsed(data, node)
        try:
            parts[part] = MODELS[part].model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                issues.append(_issue(file, node, tuple(error["loc"]), error["msg"]))
    if issues:
        raise InvalidStandards(issues)

    cross = cross_reference_issues(
        framework=_as(parts["framework"], Framework),
        units=_as(parts["units"], UnitCatalog),
        institutions=_as(parts["institutions"], InstitutionCatalog),
        recognition=_as(parts["recognition"], RecognitionRules),
        conversion=_as(parts["conversion"], ConversionTable),
    )
    for part, loc, message in cross:
        issues.append(_issue(FILES[part], parsed[part].node, loc, message))
    if issues:
        raise InvalidStandards(issues)

    return StandardsSet(
        meta=_as(parts["meta"], SetMeta),
        framework=_as(parts["framework"], Framework),
        units=_as(parts["units"], UnitCatalog),
        institutions=_as(parts["institutions"], InstitutionCatalog),
        recognition=_as(parts["recognition"], RecognitionRules),
        accumulation=_as(parts["accumulation"], AccumulationPolicy),
        conversion=_as(parts["conversion"], ConversionTable),
    )


def _as(value: BaseModel, model: type[_M]) -> _M:
    if not isinstance(value, model):  # pragma: no cover - MODELS guarantees it
        raise TypeError(f"expected {model.__name__}")
    return value
