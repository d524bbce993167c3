"""The edge guard: hostile input refused once, before any router or database sees it.

Pure ASGI, innermost of our middleware (so it sees xAPI alternate-syntax requests
after they are turned into ordinary ones). It refuses, naming the offending field:

* more than ``max_headers`` headers or more than ``max_header_bytes`` of them: 431;
* a NUL in any header, and ``Basic`` credentials that decode to a NUL or to
  invalid UTF-8 (before anyone tries to authenticate them);
* a path or query string that is not UTF-8 once percent-decoded, a NUL in either,
  control characters in the path, and decimal numbers beyond 64 bits in a path
  segment or query parameter (no id or counter of ours is that large);
* in ``application/x-www-form-urlencoded`` bodies the same as in query strings;
* in JSON bodies of the bank's API (``/api/v1``, ``/oauth``) what
  ``creditbank.kit.strict`` refuses: NUL and lone surrogates, duplicate keys,
  numbers out of range. xAPI statement bodies get the same rules from the LRS's
  own parser (one parse on the ingest path); documents are opaque bytes.

Answers: ``400`` ``{"error", "detail"}`` under ``/xapi`` (with the version header)
and ``/oauth``; elsewhere ``422`` in the shape of FastAPI's validation errors,
``{"error": "validation_failed", "detail": [{"loc": [...], "msg": ..., "type": ...}]}``
(the schema the OpenAPI document publishes). Methods other than GET, HEAD, POST,
PUT, PATCH, DELETE and OPTIONS (TRACE, CONNECT, ...): 405 with ``Allow``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditbank.kit.strict import INT64_MAX, INT64_MIN, StrictInputError, bad_char
from creditbank.kit.strict import loads as strict_loads

_DECIMAL = re.compile(r"-?[0-9]{19,}")
_PATH_CONTROL = re.compile("[\x00-\x1f\x7f]")
_QUERY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json$")
_SUPPORTED_XAPI = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")


class Refused(Exception):
    def __init__(self, loc: list[Any], message: str, status: int = 400) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.status = status


def _too_big(value: str) -> bool:
    return bool(_DECIMAL.fullmatch(value)) and not INT64_MIN <= int(value) <= INT64_MAX


def _decode(raw: bytes, loc: list[Any]) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(loc, "is not valid UTF-8 once percent-decoded") from None


def check_pairs(raw: bytes, where: str) -> None:
    """A query string or urlencoded form: each name and value checked."""
    for part in raw.split(b"&"):
        if not part:
            continue
        name_raw, _, value_raw = part.partition(b"=")
        name = _decode(name_raw.replace(b"+", b" "), [where])
        value = _decode(value_raw.replace(b"+", b" "), [where, name])
        for text, loc in ((name, [where]), (value, [where, name])):
            problem = bad_char(text)
            if problem is None and _QUERY_CONTROL.search(text):
                problem = "contains a control character"
            if problem is not None:
                raise Refused(loc, f"{name!r} {problem}")
        if _too_big(value):
            raise Refused([where, name], f"{name!r} is a number beyond the 64-bit range")


_TEMPLATES: dict[int, list[re.Pattern[str]]] = {}


def _templates(app: Any) -> list[re.Pattern[str]]:
    """The app's path templates as patterns (from its OpenAPI paths, built once)."""
    key = id(app)
    if key not in _TEMPLATES:
        paths = app.openapi().get("paths", {}) if hasattr(app, "openapi") else {}
        _TEMPLATES[key] = [
            re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
            for path in paths
            if "{" in path
        ]
    return _TEMPLATES[key]


def _path_params(scope: Scope, path: str) -> dict[str, str]:
    for pattern in _templates(scope.get("app")):
        match = pattern.match(path)
        if match is not None:
            return match.groupdict()
    return {}


def check_path(scope: Scope) -> None:
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    path = _decode(raw.partition(b"?")[0], ["path"])
    problem = bad_char(path)
    if problem is None and _PATH_CONTROL.search(path):
        problem = "contains a control character"
    segments = path.split("/")
    if problem is None and not any(_too_big(s) for s in segments):
        return
    # Name the parameter when a route matches; else the path as a whole.
    for name, value in _path_params(scope, path).items():
        if bad_char(value) or _PATH_CONTROL.search(value):
            raise Refused(["path", name], f"{name!r} {problem or 'is invalid'}")
        if _too_big(value):
            raise Refused(["path", name], f"{name!r} is a number beyond the 64-bit range")
    raise Refused(["path"], f"the path {problem or 'holds a number beyond the 64-bit range'}")


def check_headers(scope: Scope, max_headers: int, max_header_bytes: int) -> None:
    headers = scope["headers"]
    if len(headers) > max_headers:
        raise Refused(["header"], f"more than {max_headers} request headers", status=431)
    if sum(1 for name, _ in headers if name == b"content-type") > 1:
        raise Refused(["header", "Content-Type"], "Content-Type is given more than once")
    total = 0
    for name, value in headers:
        total += len(name) + len(value) + 4
        if total > max_header_bytes:
            raise Refused(["header"], f"request headers over {max_header_bytes} bytes", status=431)
        if b"\x00" in value or b"\x00" in name:
            label = name.decode("latin-1").replace("\x00", "")
            raise Refused(["header", label], f"header {label!r} contains a NUL character")
        if name == b"authorization":
            _check_basic(value)


def _check_basic(value: bytes) -> None:
    scheme, _, encoded = value.partition(b" ")
    if scheme.lower() != b"basic":
        return
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return  # malformed Basic credentials: authentication answers 401
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(
            ["header", "Authorization"], "Basic credentials are not valid UTF-8"
        ) from None
    problem = bad_char(text)
    if problem is not None:
        raise Refused(["header", "Authorization"], f"Basic credentials {problem}")


def check_json(body: bytes, max_depth: int) -> None:
    try:
        strict_loads(body, max_depth=max_depth)
    except StrictInputError as exc:
        loc: list[Any] = ["body"]
        if exc.path.startswith("$."):
            loc += [p for p in re.split(r"\.|\[(\d+)\]", exc.path[2:]) if p]
        elif exc.code == "duplicate_key":
            loc.append(exc.message.split("'")[1] if "'" in exc.message else "body")
        raise Refused(loc, str(exc)) from None


class EdgeGuardMiddleware:
    """Refuses hostile input at the edge (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_headers: int,
        max_header_bytes: int,
        max_json_depth: int,
        default_xapi_version: str,
    ) -> None:
        self.app = app
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.max_json_depth = max_json_depth
        self.default_xapi_version = default_xapi_version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in METHODS:
            await _method_not_allowed(scope, send)
            return
        try:
            check_headers(scope, self.max_headers, self.max_header_bytes)
            check_path(scope)
            check_pairs(scope.get("query_string", b""), "query")
        except Refused as exc:
            await self._refuse(scope, send, exc)
            return
        media = _media_type(scope)
        is_xapi = scope["path"].startswith("/xapi")
        checks_form = media == "application/x-www-form-urlencoded" and not is_xapi
        checks_json = bool(_JSON_MEDIA.match(media)) and not is_xapi
        if not (checks_form or checks_json):
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        try:
            if checks_form:
                check_pairs(body, "body")
            elif body.strip():
                check_json(body, self.max_json_depth)
        except Refused as exc:
            await self._refuse(scope, send, exc)
            return
        await self.app(scope, _replay(body, more, receive), send)

    async def _refuse(self, scope: Scope, send: Send, exc: Refused) -> None:
        path: str = scope["path"]
        headers = [(b"content-type", b"application/json")]
        if path.startswith("/xapi") or path.startswith("/oauth") or exc.status == 431:
            status = exc.status
            where = ".".join(str(p) for p in exc.loc[1:]) or str(exc.loc[0])
            code = "request_header_fields_too_large" if status == 431 else "bad_request"
            payload: dict[str, Any] = {"error": code, "detail": f"{where}: {exc.message}"}
        else:
            status = 422
            payload = {
                "error": "validation_failed",
                "detail": [{"loc": exc.loc, "msg": exc.message, "type": "value_error"}],
            }
        if path.startswith("/xapi"):
            headers.append((b"x-experience-api-version", self._xapi_version(scope).encode()))
        body = orjson.dumps(payload)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    def _xapi_version(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"x-experience-api-version":
                text = value.decode("latin-1").strip()
                if _SUPPORTED_XAPI.match(text):
                    return "2.0.0" if text.startswith("2.") else "1.0.3"
        return self.default_xapi_version


#: The methods any resource of ours answers; TRACE, CONNECT and the rest never.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ALLOW = ", ".join(sorted(METHODS)).encode()


async def _method_not_allowed(scope: Scope, send: Send) -> None:
    body = orjson.dumps(
        {"error": "method_not_allowed", "detail": f"method {scope['method']} is not supported"}
    )
    await send(
        {
            "type": "http.response.start",
            "status": 405,
            "headers": [
                (b"content-type", b"application/json"),
                (b"allow", _ALLOW),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _media_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1")).partition(";")[0].strip().lower()
    return ""


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body, and any non-body message received while reading it."""
    chunks: list[bytes] = []
    others: list[Message] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            others.append(message)
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), others


def _replay(body: bytes, others: list[Message], receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if others:
                return others.pop(0)
            return {"type": "http.request", "body": body, "more_body": False}
        if others:
            return others.pop(0)
        return await receive()

    return replay
