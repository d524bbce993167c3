"""The document resources: ``/xapi/activities/state``, ``/xapi/activities/profile``,
``/xapi/agents/profile`` (GET, HEAD, PUT, POST, DELETE).

Thin: parse and check the parameters (every bad one is a 400), hand the body bytes,
Content-Type and concurrency headers to the document service, shape the answer.
Writes commit before the answer is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from api.auth import CurrentPrincipal
from api.deps import DatabaseDep, ReadSessionDep, SettingsDep
from api.xapi.common import VERSION_HEADER, XapiVersion
from creditbank.config import Settings
from creditbank.db import Database, ReadSession
from creditbank.errors import BadRequest
from creditbank.identity.principal import Principal
from creditbank.kit.strict import StrictInputError
from creditbank.kit.strict import loads as strict_loads
from creditbank.lrs.documents.models import DocumentKind
from creditbank.lrs.documents.service import (
    DocumentAddress,
    Preconditions,
    StoredDocument,
    sha1_hex,
)
from creditbank.lrs.documents.service import documents as documents_service
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.ifi import agent_ifi
from creditbank.lrs.xapi.validate import is_uuid, parse_timestamp, validate_agent, validate_iri

router = APIRouter(prefix="/xapi", tags=["xAPI documents"])


# -- parameters (shared with the activities and agents routers) ----------------------------


def query_params(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query parameters; unknown (names are case-sensitive) or repeated ones are 400."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise BadRequest(f"unknown parameter {name!r}", code="unknown_parameter")
        if name in params:
            raise BadRequest(f"parameter {name!r} given more than once", code="repeated_parameter")
        params[name] = value
    return params


def require(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise BadRequest(f"the {name!r} parameter is required", code="parameter_missing")
    if not value:
        raise BadRequest(f"the {name!r} parameter is empty", code="invalid_parameter")
    return value


def parse_agent_param(raw: str, name: str = "agent") -> dict[str, Any]:
    """The ``agent`` parameter: a JSON Agent object (not a Group), validated."""
    try:
        value = strict_loads(raw.encode(), max_depth=8)
    except StrictInputError as exc:
        raise BadRequest(f"{name} is not valid JSON: {exc}", code="invalid_parameter") from exc
    try:
        return validate_agent(value, path=name, allow_group=False)
    except XAPIValidationError as exc:
        raise BadRequest(str(exc), code="invalid_parameter") from exc


def parse_agent_ifi(raw: str) -> str:
    ifi = agent_ifi(parse_agent_param(raw))
    if ifi is None:  # pragma: no cover - a validated Agent has exactly one IFI
        raise BadRequest("agent has no identifier", code="invalid_parameter")
    return ifi


def parse_activity_id(raw: str) -> str:
    try:
        return validate_iri(raw, "activityId")
    except XAPIValidationError as exc:
        raise BadRequest(str(exc), code="invalid_parameter") from exc


def parse_registration(raw: str) -> uuid.UUID:
    if not is_uuid(raw):
        raise BadRequest("registration is not a UUID", code="invalid_parameter")
    return uuid.UUID(raw)


def parse_since(raw: str) -> datetime:
    try:
        return parse_timestamp(raw)
    except XAPIValidationError as exc:
        raise BadRequest(f"since: {exc.message}", code="invalid_parameter") from exc


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


def quoted(etag: str) -> str:
    return f'"{etag}"'


# -- the three resources ----------------------------------------------------------------


@dataclass(frozen=True)
class _Resource:
    kind: DocumentKind
    path: str
    id_param: str
    scope_params: frozenset[str]
    #: DELETE without the id deletes the whole scope (State only).
    delete_all: bool

    def address(self, params: dict[str, str]) -> DocumentAddress:
        activity = (
            parse_activity_id(require(params, "activityId"))
            if "activityId" in self.scope_params
            else None
        )
        agent = parse_agent_ifi(require(params, "agent")) if "agent" in self.scope_params else None
        registration = (
            parse_registration(params["registration"]) if "registration" in params else None
        )
        return DocumentAddress(
            kind=self.kind, activity_id=activity, agent_ifi=agent, registration=registration
        )

    @property
    def single(self) -> set[str]:
        return {*self.scope_params, self.id_param}


STATE = _Resource(
    DocumentKind.STATE,
    "/activities/state",
    "stateId",
    frozenset({"activityId", "agent", "registration"}),
    delete_all=True,
)
ACTIVITY_PROFILE = _Resource(
    DocumentKind.ACTIVITY_PROFILE,
    "/activities/profile",
    "profileId",
    frozenset({"activityId"}),
    delete_all=False,
)
AGENT_PROFILE = _Resource(
    DocumentKind.AGENT_PROFILE,
    "/agents/profile",
    "profileId",
    frozenset({"agent"}),
    delete_all=False,
)


def _preconditions(request: Request) -> Preconditions:
    return Preconditions.from_headers(
        request.headers.get("if-match"), request.headers.get("if-none-match")
    )


def _document_response(request: Request, document: StoredDocument, version: str) -> Response:
    headers = {
        VERSION_HEADER: version,
        "Content-Type": document.content_type,
        "ETag": quoted(document.etag),
        "Last-Modified": http_date(document.updated),
    }
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(document.content))
        return Response(status_code=200, headers=headers)
    return Response(document.content, status_code=200, headers=headers)


def _written(document: StoredDocument | None, version: str) -> Response:
    headers = {VERSION_HEADER: version}
    if document is not None:
        headers["ETag"] = quoted(document.etag)
        headers["Last-Modified"] = http_date(document.updated)
    return Response(status_code=204, headers=headers)


async def _get(
    resource: _Resource,
    request: Request,
    version: str,
    principal: Principal,
    session: ReadSession,
) -> Response:
    params = query_params(request, {*resource.single, "since"})
    address = resource.address(params)
    doc_id = params.get(resource.id_param)
    if doc_id is not None:
        # ``since`` means nothing for one document (the spec lets it be ignored).
        document = await documents_service.get(session, principal, address, doc_id)
        return _document_response(request, document, version)
    since = parse_since(params["since"]) if "since" in params else None
    found = await documents_service.list_ids(session, principal, address, since=since)
    body = orjson.dumps(found.ids)
    headers = {VERSION_HEADER: version, "Content-Type": "application/json"}
    headers["ETag"] = quoted(sha1_hex(body))
    if found.last_modified is not None:
        headers["Last-Modified"] = http_date(found.last_modified)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers)
    return Response(body, status_code=200, headers=headers)


Write = Callable[..., Awaitable[StoredDocument]]


async def _write(
    resource: _Resource,
    write: Write,
    request: Request,
    version: str,
    principal: Principal,
    database: Database,
    settings: Settings,
) -> Response:
    params = query_params(request, resource.single)
    address = resource.address(params)
    doc_id = require(params, resource.id_param)
    content = await request.body()
    async with database.session_scope() as session:
        document = await write(
            session,
            principal,
            address,
            doc_id,
            content=content,
            content_type=request.headers.get("content-type"),
            preconditions=_preconditions(request),
            version=version,
            settings=settings.lrs,
        )
    return _written(document, version)


async def _delete(
    resource: _Resource, request: Request, version: str, principal: Principal, database: Database
) -> Response:
    params = query_params(request, resource.single)
    address = resource.address(params)
    doc_id = params.get(resource.id_param)
    async with database.session_scope() as session:
        if doc_id is None and resource.delete_all:
            await documents_service.delete_all(session, principal, address)
        else:
            await documents_service.delete(
                session,
                principal,
                address,
                require(params, resource.id_param),
                preconditions=_preconditions(request),
            )
    return _written(None, version)


def _register(resource: _Resource) -> None:
    path = resource.path
    name = resource.kind.value

    async def get_documents(
        request: Request,
        version: XapiVersion,
        principal: CurrentPrincipal,
        session: ReadSessionDep,
    ) -> Response:
        return await _get(resource, request, version, principal, session)

    async def put_document(
        request: Request,
        version: XapiVersion,
        principal: CurrentPrincipal,
        database: DatabaseDep,
        settings: SettingsDep,
    ) -> Response:
        return await _write(
            resource, documents_service.put, request, version, principal, database, settings
        )

    async def post_document(
        request: Request,
        version: XapiVersion,
        principal: CurrentPrincipal,
        database: DatabaseDep,
        settings: SettingsDep,
    ) -> Response:
        return await _write(
            resource, documents_service.post, request, version, principal, database, settings
        )

    async def delete_documents(
        request: Request,
        version: XapiVersion,
        principal: CurrentPrincipal,
        database: DatabaseDep,
    ) -> Response:
        return await _delete(resource, request, version, principal, database)

    router.add_api_route(
        path, get_documents, methods=["GET"], name=f"get_{name}", response_class=Response
    )
    router.add_api_route(
        path,
        get_documents,
        methods=["HEAD"],
        name=f"head_{name}",
        include_in_schema=False,
        response_class=Response,
    )
    router.add_api_route(
        path,
        put_document,
        methods=["PUT"],
        name=f"put_{name}",
        status_code=204,
        response_class=Response,
    )
    router.add_api_route(
        path,
        post_document,
        methods=["POST"],
        name=f"post_{name}",
        status_code=204,
        response_class=Response,
    )
    router.add_api_route(
        path,
        delete_documents,
        methods=["DELETE"],
        name=f"delete_{name}",
        status_code=204,
        response_class=Response,
    )


for _resource in (STATE, ACTIVITY_PROFILE, AGENT_PROFILE):
    _register(_resource)
