"""Turning request bytes into JSON values, with the limits a public endpoint needs."""

from __future__ import annotations

from typing import Any

import orjson

from creditbank.errors import BadRequest


def parse_json(body: bytes, *, max_depth: int) -> Any:
    """Parse strict UTF-8 JSON; malformed, invalid UTF-8 or too deep → ``BadRequest``."""
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
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise BadRequest(f"JSON nested deeper than {max_depth} levels", code="json_too_deep")
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
