"""``/xapi/statements``: PUT, POST, GET and HEAD (xAPI Communication, Statement Resource).

Thin: parse the request (content type, JSON, parameters), call the statement
service, shape the answer. The write transaction commits before the answer is
sent, so an acknowledged statement is durable.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from email.utils import format_datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from api.auth import CurrentPrincipal
from api.deps import DatabaseDep, SettingsDep
from api.errors import error_response
from api.replica import ReplicaSessionDep
from api.xapi.common import VERSION_HEADER, XapiVersion
from creditbank.config import Settings
from creditbank.db import ReadSession, StandbyBehind
from creditbank.errors import BadRequest, DomainError
from creditbank.identity.principal import Principal
from creditbank.kit.time import isoformat_z
from creditbank.lrs.attachments import encode_statements_multipart, parse_statements_multipart
from creditbank.lrs.payload import parse_json
from creditbank.lrs.query import parse_query
from creditbank.lrs.service import statements as statement_service
from creditbank.lrs.xapi.format import parse_accept_language

router = APIRouter(prefix="/xapi", tags=["xAPI statements"])

CONSISTENT_HEADER = "X-Experience-API-Consistent-Through"


async def read_statements_body(
    request: Request, settings: Settings
) -> tuple[Any, Mapping[str, bytes] | None]:
    """The JSON statement(s) of a write and the attachment contents by SHA-2 (multipart).

    ``application/json``, or ``multipart/mixed`` with the statements in the first part
    and one part per attachment (checked against its ``X-Experience-API-Hash``).
    """
    content_type = request.headers.get("content-type")
    if not content_type:
        raise BadRequest("Content-Type is required", code="content_type_missing")
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    charset = ""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset and charset not in ("utf-8", "utf8"):
        raise BadRequest("statements must be sent as UTF-8", code="content_type_invalid")
    if media == "application/json":
        body = await request.body()
        return parse_json(body, max_depth=settings.lrs.max_depth), None
    if media == "multipart/mixed":
        parsed = parse_statements_multipart(
            content_type,
            await request.body(),
            max_depth=settings.lrs.max_depth,
            max_attachment_bytes=settings.lrs.max_attachment_bytes,
        )
        return parsed.statements, {sha2: p.content for sha2, p in parsed.parts.items()}
    raise BadRequest(
        f"Content-Type {media!r} is not accepted; send application/json",
        code="content_type_invalid",
    )


def _only_params(request: Request, allowed: set[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise BadRequest(f"unknown parameter {name!r}", code="unknown_parameter")
        if name in params:
            raise BadRequest(f"parameter {name!r} given more than once", code="repeated_parameter")
        params[name] = value
    return params


def _json(content: Any, headers: dict[str, str], status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


@router.put("/statements", status_code=204, response_class=Response)
async def put_statement(
    request: Request,
    version: XapiVersion,
    principal: CurrentPrincipal,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Store one statement under ``statementId``; the same statement again is a no-op."""
    params = _only_params(request, {"statementId"})
    if "statementId" not in params:
        raise BadRequest("statementId is required", code="statement_id_missing")
    try:
        statement_id = uuid.UUID(params["statementId"])
    except ValueError as exc:
        raise BadRequest("statementId is not a UUID", code="invalid_parameter") from exc
    body, attachments = await read_statements_body(request, settings)
    async with database.session_scope() as session:
        await statement_service.put_statement(
            session,
            principal,
            statement_id,
            body,
            version=version,
            settings=settings.lrs,
            attachments=attachments,
        )
    return Response(status_code=204, headers={VERSION_HEADER: version})


@router.post("/statements", response_model=list[str])
async def post_statements(
    request: Request,
    version: XapiVersion,
    principal: CurrentPrincipal,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Store one statement or an array, atomically; answers the ids in request order."""
    _only_params(request, set())
    body, attachments = await read_statements_body(request, settings)
    batch = body if isinstance(body, list) else [body]
    async with database.session_scope() as session:
        result = await statement_service.store_statements(
            session,
            principal,
            batch,
            version=version,
            settings=settings.lrs,
            attachments=attachments,
            single=not isinstance(body, list),
        )
    return _json([str(i) for i in result.ids], {VERSION_HEADER: version})


def _http_date(value: Any) -> str:
    return format_datetime(value, usegmt=True)


@router.head("/statements", include_in_schema=False)
@router.get("/statements")
async def get_statements(
    request: Request,
    version: XapiVersion,
    principal: CurrentPrincipal,
    session: ReplicaSessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """One statement by (voided) id, or a filtered page with a ``more`` link.

    Read on the hot standby when there is one (``api.replica``); what the standby
    cannot answer truly (a statement it has not replayed yet, a ``more`` page beyond
    its last statement, an empty store) is read again on the primary."""
    try:
        return await _answer_statements(request, version, principal, session, settings)
    except StandbyBehind:
        async with database.read_scope() as primary:
            return await _answer_statements(request, version, principal, primary, settings)


async def _answer_statements(
    request: Request,
    version: str,
    principal: Principal,
    session: ReadSession,
    settings: Settings,
) -> Response:
    try:
        return await _get_statements(request, version, principal, session, settings)
    except DomainError as exc:
        # Even a refused statements GET says how far the store is consistent.
        response = error_response(request, exc.status_code, exc.code, exc.detail)
        consistent = await statement_service.consistent_through(session)
        response.headers[CONSISTENT_HEADER] = isoformat_z(consistent)
        return response


async def _get_statements(
    request: Request,
    version: str,
    principal: Principal,
    session: ReadSession,
    settings: Settings,
) -> Response:
    query = parse_query(request.query_params.multi_items(), settings.lrs)
    languages = parse_accept_language(request.headers.get("accept-language"))
    headers = {VERSION_HEADER: version}
    # Strict versioning: 1.0.3 readers get 2.0 statements in a form 1.0.3 allows.
    downgrade = settings.lrs.strict_version and version.startswith("1.")
    content: Any
    if query.is_single:
        single_id = query.statement_id or query.voided_statement_id
        if single_id is None:  # pragma: no cover - is_single guarantees one
            raise BadRequest("statementId missing", code="invalid_parameter")
        content, stored = await statement_service.get_statement(
            session,
            principal,
            single_id,
            voided=query.voided_statement_id is not None,
            fmt=query.format,
            languages=languages,
            downgrade=downgrade,
        )
        consistent = await statement_service.consistent_through(session)
        headers["Last-Modified"] = _http_date(stored)
    else:
        page = await statement_service.query_statements(
            session, principal, query, languages=languages, downgrade=downgrade
        )
        more = ""
        if page.more:
            root = request.scope.get("root_path", "")
            more = f"{root}/xapi/statements?more={page.more}"
        content = {"statements": page.statements, "more": more}
        consistent = page.consistent_through
        headers["Last-Modified"] = _http_date(page.last_modified)
    headers[CONSISTENT_HEADER] = isoformat_z(consistent)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/json")
    if query.attachments:
        statements = [content] if query.is_single else content["statements"]
        parts = await statement_service.attachment_parts(session, statements)
        body, media_type = encode_statements_multipart(content, parts)
        return Response(body, media_type=media_type, headers=headers)
    return _json(content, headers)
