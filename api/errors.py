"""One place that turns errors into HTTP answers: ``{"error": code, "detail": message}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.xapi.common import XAPI_PREFIX
from creditbank.db import database_error, unavailable_error
from creditbank.errors import DomainError, ServiceUnavailable

log = logging.getLogger("creditbank.api")


def _is_xapi(request: Request) -> bool:
    return request.url.path.startswith(XAPI_PREFIX)


def error_response(
    request: Request,
    status_code: int,
    code: str,
    detail: object,
    headers: dict[str, str] | None = None,
) -> Response:
    headers = dict(headers or {})
    if status_code == 401 and not _is_xapi(request):
        headers["WWW-Authenticate"] = 'Bearer realm="creditbank"'
    elif status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="creditbank LRS"'
    if _is_xapi(request):
        # The spec wants the version header on every response, errors included.
        headers["X-Experience-API-Version"] = getattr(request.state, "xapi_version", "1.0.3")
    if request.method == "HEAD":
        return Response(status_code=status_code, headers=headers)
    return JSONResponse({"error": code, "detail": detail}, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and HTTP errors to the one JSON shape."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        headers = {}
        retry_after = getattr(exc, "retry_after_seconds", None)
        if isinstance(exc, ServiceUnavailable) or retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        detail: object = exc.detail
        if exc.status_code == 422 and not _is_xapi(request):
            # Every 422 of the bank's API has the one published shape (a list of
            # loc/msg/type items), whether pydantic or a service refused the payload.
            # A service that knows the field names it (``loc``), as pydantic does.
            loc = getattr(exc, "loc", None) or ["body"]
            detail = [{"loc": loc, "msg": exc.detail, "type": exc.code}]
        return error_response(request, exc.status_code, exc.code, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # Each item as the published ValidationError schema has it (loc, msg, type).
        errors = [
            {
                "loc": list(err.get("loc", ())),
                "msg": err.get("msg", ""),
                "type": err.get("type", "value_error"),
            }
            for err in exc.errors()
        ]
        # xAPI demands 400 for every bad request; the bank's API uses 422 for payloads.
        status = 400 if _is_xapi(request) else 422
        return error_response(request, status, "validation_failed", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        # Keep the exception's headers: a 405 names the methods that are allowed.
        return error_response(request, exc.status_code, code, exc.detail, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return error_response(request, 500, "internal_error", "internal error")

    async def _unreachable(request: Request, exc: Exception) -> Response:
        # The driver could not reach the database (PostgreSQL restarting, a connect
        # timeout): "retry", not an internal error.
        unavailable = unavailable_error(exc)
        if unavailable is None:
            raise exc
        log.warning(
            "database unreachable, answered 503",
            extra={"path": request.url.path, "error": type(exc).__name__},
        )
        return await _domain(request, unavailable)

    app.add_exception_handler(ConnectionError, _unreachable)
    app.add_exception_handler(TimeoutError, _unreachable)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        # Mostly a failed commit (the request session commits before the answer is sent,
        # see api.deps): never a 2xx for something not stored.
        mapped = database_error(exc)
        if mapped is None:
            raise exc  # to the 500 handler, as any unexpected error
        log.warning(
            "database error answered %s",
            mapped.status_code,
            extra={"path": request.url.path, "error": type(exc.orig).__name__},
        )
        return await _domain(request, mapped)


#: What a 422 of the bank's API looks like, as the OpenAPI document publishes it.
VALIDATION_ERROR_SCHEMA: dict[str, object] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "title": "Error", "examples": ["validation_failed"]},
        "detail": {
            "type": "array",
            "title": "Detail",
            "items": {"$ref": "#/components/schemas/ValidationError"},
        },
    },
}


#: Every other client error of ours: ``error_response``'s body (xAPI's too).
ERROR_SCHEMA: dict[str, object] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "title": "Error", "examples": ["not_found"]},
        "detail": {"title": "Detail", "description": "what is wrong, for a person"},
    },
}

_CLIENT_ERROR = {
    "description": "Refused: the request, its credentials or the state it meets "
    "(401, 403, 404, 409, 412, 413, 429, 431, ...); the code in `error` says which",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def publish_validation_schema(app: FastAPI) -> None:
    """Make the published error answers the bodies we send.

    The 422 schema is the body ``_validation`` (and the edge guard) send. Every
    operation also documents ``4XX`` with the one error body: any request can be
    refused by the edge guard, authentication, authorization or the service, and
    a client (or schemathesis, ``tests/fuzz``) must be able to rely on its shape.
    """
    build = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            if "HTTPValidationError" in components:
                components["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
            components["Error"] = ERROR_SCHEMA
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    if isinstance(operation, dict) and "responses" in operation:
                        operation["responses"].setdefault("4XX", _CLIENT_ERROR)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
