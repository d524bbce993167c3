"""The xAPI 1.0.3 alternate request syntax (Communication 1.3), as pure ASGI middleware.

A client that cannot send custom headers or methods POSTs to
``/xapi/<resource>?method=PUT`` with an ``application/x-www-form-urlencoded`` body:
the header parameters (``Authorization``, ``X-Experience-API-Version``,
``Content-Type``, ``Content-Length``, ``If-Match``, ``If-None-Match``) as form
fields, the request body as the ``content`` field, every other field a query
parameter. The request is rewritten into the real one before routing, so every
resource sees an ordinary request.

Rules: only POST may carry ``method``; nothing but ``method`` may be in the query
string; the body must be valid UTF-8 form encoding. xAPI 2.0 removed the syntax,
so a request speaking 2.0 with ``method=`` is refused. All refusals are ``400``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.xapi.common import XAPI_PREFIX

FORM_MEDIA = "application/x-www-form-urlencoded"
HEADER_FIELDS = frozenset(
    {
        "authorization",
        "x-experience-api-version",
        "content-type",
        "content-length",
        "if-match",
        "if-none-match",
    }
)
METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})


class AlternateSyntaxError(Exception):
    def __init__(self, detail: str, version: str = "1.0.3") -> None:
        super().__init__(detail)
        self.detail = detail
        self.version = version


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AlternateSyntaxError("the client disconnected")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def rewrite(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
    """The real request an alternate-syntax request stands for: ``(scope, body)``."""
    query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    outer_version = _header(scope, b"x-experience-api-version")
    if scope["method"] != "POST":
        raise AlternateSyntaxError(
            "the alternate request syntax (method=) is only allowed on POST", outer_version or ""
        )
    if len(query) != 1:
        raise AlternateSyntaxError(
            "the alternate request syntax allows no query parameter but 'method'; "
            "send the others as form fields",
            outer_version or "",
        )
    target = query[0][1].upper()
    if target not in METHODS:
        raise AlternateSyntaxError(f"method={query[0][1]!r} is not an xAPI method")
    content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != FORM_MEDIA:
        raise AlternateSyntaxError(f"the alternate request syntax needs a {FORM_MEDIA} body")
    try:
        fields = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise AlternateSyntaxError("the form body is not valid UTF-8 form encoding") from exc
    headers: dict[str, str] = {}
    params: list[tuple[str, str]] = []
    content: str | None = None
    for name, value in fields:
        lowered = name.lower()
        if lowered in HEADER_FIELDS:
            headers[lowered] = value
        elif name == "content":
            content = value
        else:
            params.append((name, value))
    version = headers.get("x-experience-api-version") or outer_version or ""
    if version.strip().startswith("2"):
        raise AlternateSyntaxError(
            "xAPI 2.0 removed the alternate request syntax; send an ordinary request", "2.0.0"
        )
    new_body = content.encode("utf-8") if content is not None else b""
    # The outer Content-Type/Length describe the form, not the content: replaced.
    replaced = {"content-type", "content-length", *headers}
    kept = [(k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in replaced]
    if new_body and "content-type" not in headers:
        headers["content-type"] = "application/json"
    headers.pop("content-length", None)
    new_headers = kept + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    new_headers.append((b"content-length", str(len(new_body)).encode()))
    new_scope = dict(scope)
    new_scope["method"] = target
    new_scope["query_string"] = urlencode(params).encode("latin-1")
    new_scope["headers"] = new_headers
    return new_scope, new_body


class AlternateRequestMiddleware:
    """Rewrites ``POST /xapi/...?method=X`` form requests into the request they stand for."""

    def __init__(self, app: ASGIApp, prefix: str = XAPI_PREFIX) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(self.prefix)
            or not _has_method_param(scope["query_string"])
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
            new_scope, new_body = rewrite(scope, body)
        except AlternateSyntaxError as exc:
            await _reject(send, exc.detail, exc.version)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": new_body, "more_body": False}
            return await receive()

        await self.app(new_scope, replay, send)


def _has_method_param(query_string: bytes) -> bool:
    if b"method" not in query_string:
        return False
    return any(
        name == "method"
        for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    )


async def _reject(send: Send, detail: str, version: str) -> None:
    body = orjson.dumps({"error": "alternate_syntax_invalid", "detail": detail})
    answered = "2.0.0" if version.strip().startswith("2") else "1.0.3"
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-experience-api-version", answered.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
