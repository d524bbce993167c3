"""Authentication: HTTP Basic LRS credentials and Bearer access tokens (JWT).

``Basic`` works exactly as before (LRS credential key and secret). ``Bearer`` takes
an access token from ``/api/v1/auth/login`` (a user) or ``/oauth/token`` (an
institution system, client credentials); see ``creditbank.identity.signin``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from api.deps import get_app_settings, get_database
from creditbank.errors import Unauthorized
from creditbank.identity.principal import ANONYMOUS, Principal
from creditbank.identity.service import identity as identity_service
from creditbank.identity.signin import sign_in as sign_in_service


def parse_basic(header: str) -> tuple[str, str]:
    """``(key, secret)`` of a ``Basic`` Authorization header, or ``Unauthorized``."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("unsupported authorization scheme", code="invalid_credentials")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed Basic credentials", code="invalid_credentials") from exc
    key, sep, secret = decoded.partition(":")
    if not sep or not key:
        raise Unauthorized("malformed Basic credentials", code="invalid_credentials")
    return key, secret


async def current_principal(request: Request) -> Principal:
    """The authenticated caller; anonymous access is refused with 401."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("authentication required", code="authentication_required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        token = token.strip()
        if not token:
            raise Unauthorized("empty bearer token", code="invalid_token")
        async with get_database(request).read_scope() as session:
            return await sign_in_service.principal_from_token(
                session, settings=get_app_settings(request), token=token
            )
    key, secret = parse_basic(header)
    async with get_database(request).read_scope() as session:
        return await identity_service.authenticate_basic(session, key, secret)


async def optional_principal(request: Request) -> Principal:
    """The caller if credentials are sent, else ``ANONYMOUS`` (bad credentials still 401)."""
    if not request.headers.get("authorization"):
        return ANONYMOUS
    return await current_principal(request)


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal, Depends(optional_principal)]
ClientIp = Annotated[str, Depends(client_ip)]
