"""Strict input: the JSON, text and number rules every public entry point shares.

One definition of what the bank refuses, used once at the edge (``api/guard.py``
for query strings, paths, headers, forms and the JSON bodies of ``/api/v1``; the
LRS's JSON parser for xAPI bodies):

* NUL (U+0000) and lone surrogates in any string or object key: PostgreSQL cannot
  store the first, UTF-8 cannot encode the second;
* the same key twice in one JSON object (which of the two would count?);
* integers outside the signed 64-bit range and numbers that overflow a double
  (``1e400``), ``NaN`` and ``Infinity``: no column or JSON writer of ours can
  hold them exactly, so they are refused rather than rounded.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: NUL and lone surrogates (well-formed pairs never reach a ``str`` as surrogates).
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
#: A JSON text that may hold one of them: ``\u0000`` or a ``\uD8xx``..``\uDFxx`` escape.
_MAYBE_BAD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class StrictInputError(ValueError):
    """Input refused; ``path`` names where (``$.actor.name``), ``message`` what is wrong."""

    def __init__(self, path: str, message: str, *, code: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message
        self.code = code


def bad_char(value: str) -> str | None:
    """What is wrong with ``value`` (NUL or a lone surrogate), or ``None``."""
    found = _BAD_CHAR.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000)"
    return f"contains a lone surrogate (U+{ord(found.group()):04X})"


def check_text(value: str, path: str) -> None:
    problem = bad_char(value)
    if problem is not None:
        raise StrictInputError(path, problem, code="invalid_character")


#: Characters that change how text around them is shown without being visible:
#: bidi embeddings/overrides/isolates, zero-width joiners and marks, and the like.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def invisible_char(value: str) -> str | None:
    """The first control, format (bidi, zero-width) or unassigned character, if any.

    For names people recognise each other by (user names): ``operator\u202e...``
    must not look like ``operator`` on a screen.
    """
    for char in value:
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"
    return None


class _OutOfRange:
    """A number json parsed that we refuse; found (with its path) by the walk."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def loads(body: bytes, *, max_depth: int) -> Any:
    """Parse a JSON text by the rules above; ``StrictInputError`` names the problem.

    Malformed JSON (``code`` ``malformed_json``), invalid UTF-8 (``invalid_utf8``),
    nesting deeper than ``max_depth`` (``json_too_deep``), a duplicate key
    (``duplicate_key``), NUL / lone surrogate (``invalid_character``), a number out
    of range (``number_out_of_range``).
    """
    if not body.strip():
        raise StrictInputError("", "the request body is empty", code="malformed_json")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictInputError("", "the body is not valid UTF-8", code="invalid_utf8") from exc
    flagged = False

    def _int(raw: str) -> Any:
        nonlocal flagged
        value = int(raw)
        if INT64_MIN <= value <= INT64_MAX:
            return value
        flagged = True
        return _OutOfRange(raw)

    def _float(raw: str) -> Any:
        nonlocal flagged
        value = float(raw)
        if value in (float("inf"), float("-inf")):
            flagged = True
            return _OutOfRange(raw)
        return value

    def _const(name: str) -> Any:
        nonlocal flagged
        flagged = True
        return _OutOfRange(name)

    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_const,
        )
    except _DuplicateKey as exc:
        raise StrictInputError(
            "", f"the key {exc.key!r} appears twice in one object", code="duplicate_key"
        ) from None
    except RecursionError:
        raise StrictInputError(
            "", f"JSON nested deeper than {max_depth} levels", code="json_too_deep"
        ) from None
    except ValueError as exc:
        raise StrictInputError("", f"malformed JSON: {exc}", code="malformed_json") from None
    if flagged or _MAYBE_BAD_ESCAPE.search(body):
        _walk(value, "$", 1, max_depth)
    else:
        _depth(value, 1, max_depth)
    return value


def _walk(value: Any, path: str, depth: int, max_depth: int) -> None:
    kind = type(value)
    if kind is str:
        check_text(value, path)
    elif kind is _OutOfRange:
        raise StrictInputError(
            path,
            f"the number {value.text[:40]} is out of range (integers must fit in 64 bits,"
            " numbers in a double)",
            code="number_out_of_range",
        )
    elif kind is dict or kind is list:
        if depth > max_depth:
            raise StrictInputError(
                "", f"JSON nested deeper than {max_depth} levels", code="json_too_deep"
            )
        if kind is dict:
            for key, child in value.items():
                check_text(key, f"{path}.{key}")
                _walk(child, f"{path}.{key}", depth + 1, max_depth)
        else:
            for index, child in enumerate(value):
                _walk(child, f"{path}[{index}]", depth + 1, max_depth)


def _depth(value: Any, depth: int, max_depth: int) -> None:
    # Only containers recurse, and never more than max_depth + 1 frames deep.
    kind = type(value)
    if kind is dict:
        children: Any = value.values()
    elif kind is list:
        children = value
    else:
        return
    if depth > max_depth:
        raise StrictInputError(
            "", f"JSON nested deeper than {max_depth} levels", code="json_too_deep"
        )
    for child in children:
        child_kind = type(child)
        if child_kind is dict or child_kind is list:
            _depth(child, depth + 1, max_depth)
