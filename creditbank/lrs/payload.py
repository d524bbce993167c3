"""Turning request bytes into JSON values, with the limits a public endpoint needs."""

from __future__ import annotations

from typing import Any

import orjson

from creditbank.errors import BadRequest
from creditbank.kit.strict import StrictInputError
from creditbank.kit.strict import loads as strict_loads


def parse_json(body: bytes, *, max_depth: int, strict: bool = True) -> Any:
    """Parse UTF-8 JSON; malformed, invalid UTF-8 or too deep → ``BadRequest``.

    ``strict`` (statements): also refuse what ``creditbank.kit.strict`` refuses — NUL
    and lone surrogates, duplicate keys, numbers out of range — naming the path.
    Documents are opaque bytes to the LRS and are parsed leniently.
    """
    if strict:
        try:
            return strict_loads(body, max_depth=max_depth)
        except StrictInputError as exc:
            raise BadRequest(str(exc), code=exc.code) from None
    if not body.strip():
        raise BadRequest("the request body is empty", code="malformed_json")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "utf-8" in message.lower() or "surrogate" in message.lower():
            raise BadRequest("the body is not valid UTF-8", code="invalid_utf8") from exc
        raise BadRequest(f"malformed JSON: {message}", code="malformed_json") from exc
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse documents nested deeper than ``max_depth`` containers."""
    if _depth_exceeded(value, 1, max_depth):
        raise BadRequest(f"JSON nested deeper than {max_depth} levels", code="json_too_deep")


def _depth_exceeded(value: Any, depth: int, max_depth: int) -> bool:
    # Recursion stops at max_depth + 1 frames, whatever the document.
    kind = type(value)
    if kind is dict:
        children: Any = value.values()
    elif kind is list:
        children = value
    else:
        return False
    if depth > max_depth:
        return True
    for child in children:
        child_kind = type(child)
        if (child_kind is dict or child_kind is list) and _depth_exceeded(
            child, depth + 1, max_depth
        ):
            return True
    return False
